/** The logger interface of the runtime, a console logger and a silent one. */

export type LogFields = Record<string, unknown>;

/** A minimal structured logger; pino, winston and console fit with a one-line adapter. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const fieldsText = (fields?: LogFields) => {
  if (!fields || Object.keys(fields).length === 0) return '';
  return ' ' + JSON.stringify(fields, (_key, value: unknown) => (value instanceof Error ? value.message : typeof value === 'bigint' ? String(value) : value));
};

/**
 * Writes `<time> <level> <message> {fields}` lines to stderr, from `level` up (default info).
 *
 * @example
 * ```ts
 * import { consoleLogger, Flow, startWorker } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * await startWorker({ connectionString: process.env.DATABASE_URL, flows: [hello], logger: consoleLogger({ level: 'debug', prefix: 'worker' }) });
 * ```
 */
export function consoleLogger(options: { level?: LogLevel; prefix?: string } = {}): Logger {
  const threshold = LEVELS[options.level ?? 'info'];
  const prefix = options.prefix ?? 'pgflow-orm';
  const write = (level: Exclude<LogLevel, 'silent'>) => (message: string, fields?: LogFields) => {
    if (LEVELS[level] < threshold) return;
    process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${prefix}] ${message}${fieldsText(fields)}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

const ignore = () => {};
/**
 * A logger that writes nothing (for tests, or when your app logs the events itself).
 *
 * @example
 * ```ts
 * import { Flow, silentLogger, startWorker } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * await startWorker({ connectionString: process.env.DATABASE_URL, flows: [hello], logger: silentLogger });
 * ```
 */
export const silentLogger: Logger = Object.freeze({ debug: ignore, info: ignore, warn: ignore, error: ignore });

/** A logger that adds `bound` to the fields of every message. */
export function childLogger(logger: Logger, bound: LogFields): Logger {
  const wrap = (write: Logger['info']) => (message: string, fields?: LogFields) => write(message, fields ? { ...bound, ...fields } : bound);
  return { debug: wrap(logger.debug.bind(logger)), info: wrap(logger.info.bind(logger)), warn: wrap(logger.warn.bind(logger)), error: wrap(logger.error.bind(logger)) };
}
