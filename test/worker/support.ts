/** Helpers for the worker and client tests. */
import type { Logger, LogFields } from '../../src/flow/index.js';

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields | undefined;
}

/** A logger that keeps every entry (and prints nothing). */
export function memoryLogger(): Logger & { entries: LogEntry[]; messages(level?: LogEntry['level']): string[] } {
  const entries: LogEntry[] = [];
  const write = (level: LogEntry['level']) => (message: string, fields?: LogFields) => {
    entries.push({ level, message, fields });
  };
  return {
    entries,
    messages: (level) => entries.filter((entry) => level === undefined || entry.level === level).map((entry) => entry.message),
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 20 ms until it returns a truthy value; fails after `timeout` ms with `what`. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, timeout = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(20);
  }
}

let counter = 0;
/** A flow slug unique within the test file. */
export function uniqueSlug(prefix: string): string {
  counter += 1;
  return `${prefix}_${counter}`;
}

/** A promise with its resolve function exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => (resolve = done));
  return { promise, resolve };
}
