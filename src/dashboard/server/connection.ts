/**
 * Where the dashboard reads from and listens on, from its options: a
 * connection string (it opens and later closes a small pool of its own), a
 * pg.Pool, or any connection the package supports (`db`: Drizzle, Kysely,
 * postgres.js, pg). Queries go through the package's SqlExecutor; live
 * updates need one dedicated connection for LISTEN, taken from the pool, the
 * connection string, or postgres.js. A Kysely instance or a single pg.Client
 * cannot provide one, so those need `pool` or `connectionString` as well.
 * Actions run on a connection whose notices are collected when there is a
 * node-postgres pool (the engine explains why it changed nothing in a notice).
 */
import pg from 'pg';
import { toExecutor, type PgflowConnection, type SqlExecutor } from '../../core/connection.js';
import type { Logger } from '../../flow/logger.js';
import { pgNotifications, postgresJsNotifications, type NotificationSource, type PostgresJsListen } from './notifications.js';

export interface ConnectionOptions {
  db?: PgflowConnection;
  pool?: pg.Pool;
  connectionString?: string;
}

/**
 * Runs `run` on a connection and collects the notices PostgreSQL sends meanwhile (none where the driver
 * does not hand them over per connection).
 */
export type NoticeCapture = <T>(run: (db: SqlExecutor) => Promise<T>) => Promise<{ value: T; notices: string[] }>;

export interface DashboardDatabase {
  executor: SqlExecutor;
  notifications: NotificationSource;
  withNotices: NoticeCapture;
  /** Ends what the dashboard opened itself (never the app's own pool or db). */
  close(): Promise<void>;
}

const isObject = (value: unknown): value is Record<string, unknown> => (typeof value === 'object' || typeof value === 'function') && value !== null;

/** A node-postgres Pool (duck-typed: another copy of pg may have created it). */
function asPgPool(value: unknown): pg.Pool | undefined {
  return isObject(value) && typeof value.connect === 'function' && typeof value.query === 'function' && 'totalCount' in value && 'idleCount' in value
    ? (value as unknown as pg.Pool)
    : undefined;
}

/** A postgres.js `sql` (it has both `unsafe` and `listen`). */
function asPostgresJs(value: unknown): PostgresJsListen | undefined {
  return isObject(value) && typeof value.unsafe === 'function' && typeof value.listen === 'function' ? (value as unknown as PostgresJsListen) : undefined;
}

export function openDashboardDatabase(options: ConnectionOptions, logger: Logger): DashboardDatabase {
  const given = [options.db, options.pool, options.connectionString].filter((value) => value !== undefined).length;
  if (given === 0) throw new TypeError('createDashboard: pass `connectionString`, `pool` or `db`');
  if (options.connectionString !== undefined && typeof options.connectionString !== 'string') throw new TypeError('createDashboard: `connectionString` must be a string');

  let ownPool: pg.Pool | undefined;
  const pool = options.pool ?? asPgPool(options.db) ?? asPgPool(isObject(options.db) ? options.db.$client : undefined);
  const postgresJs = asPostgresJs(options.db) ?? asPostgresJs(isObject(options.db) ? options.db.$client : undefined);

  let executor: SqlExecutor;
  let noticePool: pg.Pool | undefined = pool;
  if (options.db !== undefined) executor = toExecutor(options.db);
  else if (pool) executor = toExecutor(pool);
  else {
    ownPool = new pg.Pool({ connectionString: options.connectionString, max: 4, application_name: 'pgflow-orm dashboard' });
    ownPool.on('error', (error) => logger.warn('an idle dashboard connection failed', { error: error.message }));
    executor = toExecutor(ownPool);
    noticePool = ownPool;
  }

  let notifications: NotificationSource;
  if (options.connectionString !== undefined) notifications = pgNotifications({ connectionString: options.connectionString }, logger);
  else if (pool) notifications = pgNotifications({ pool }, logger);
  else if (postgresJs) notifications = postgresJsNotifications(postgresJs);
  else {
    throw new TypeError(
      'createDashboard: live updates need a connection of their own for LISTEN, which this `db` cannot provide; ' +
        'pass `pool` (a pg.Pool) or `connectionString` as well',
    );
  }

  const withNotices: NoticeCapture = async (run) => {
    if (!noticePool) return { value: await run(executor), notices: [] };
    const client = await noticePool.connect();
    const notices: string[] = [];
    const onNotice = (notice: { message?: string }) => {
      if (notice.message) notices.push(notice.message);
    };
    client.on('notice', onNotice);
    try {
      // The notices of a statement arrive before its result, so they are all in by now.
      return { value: await run(toExecutor(client)), notices };
    } finally {
      client.off('notice', onNotice);
      client.release();
    }
  };

  return {
    executor,
    notifications,
    withNotices,
    async close() {
      await notifications.close();
      await ownPool?.end();
    },
  };
}
