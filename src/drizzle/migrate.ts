/**
 * `migratePgflow(db)`: installs or upgrades pgflow from the package's bundled
 * migrations, recorded in `drizzle.__pgflow_migrations` exactly as drizzle's
 * migrator records them (so `drizzle-kit migrate --config
 * node_modules/pgflow-orm/drizzle.config.ts` sees the same history), on one
 * dedicated connection that holds a session advisory lock for the whole run.
 *
 * It does not call drizzle-orm's migrator: that one takes no lock, and the
 * 1.0 line no longer reads the journal folder format the package ships.
 */
import { toExecutor, type SqlExecutor } from '../core/connection.js';
import { applyBundledMigrations, type ApplyResult } from '../migrations/apply.js';

export { PgflowMigrationError, type ApplyResult } from '../migrations/apply.js';

/** A Drizzle database built on node-postgres (`pg`) or postgres.js. */
export interface DrizzleDatabaseLike {
  $client: unknown;
}

interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}
interface PgPool extends PgQueryable {
  connect(): Promise<PgQueryable & { release(error?: Error | boolean): void }>;
  totalCount: number;
}
interface PostgresJsReserved {
  unsafe(text: string, values?: unknown[]): PromiseLike<unknown[]>;
  release(): void;
}
interface PostgresJsSql {
  reserve(): Promise<PostgresJsReserved>;
}

function isPostgresJs(client: unknown): client is PostgresJsSql {
  return typeof client === 'function' && typeof (client as Partial<PostgresJsSql>).reserve === 'function';
}

function isPgPool(client: unknown): client is PgPool {
  return typeof client === 'object' && client !== null && 'totalCount' in client && typeof (client as PgPool).connect === 'function';
}

function isPgClient(client: unknown): client is PgQueryable {
  return typeof client === 'object' && client !== null && typeof (client as PgQueryable).query === 'function';
}

/** Runs `use` with an executor bound to one connection of the database behind a Drizzle `db`. */
async function withDedicatedConnection<T>(db: DrizzleDatabaseLike, use: (session: SqlExecutor) => Promise<T>): Promise<T> {
  const client = db.$client;
  if (isPostgresJs(client)) {
    const reserved = await client.reserve();
    try {
      return await use(toExecutor(reserved));
    } finally {
      reserved.release();
    }
  }
  if (isPgPool(client)) {
    const connection = await client.connect();
    try {
      return await use(toExecutor(connection));
    } finally {
      connection.release();
    }
  }
  if (isPgClient(client)) return use(toExecutor(client));
  throw new TypeError('migratePgflow: expected a Drizzle database built on node-postgres (pg) or postgres.js');
}

/**
 * Installs or upgrades pgflow in the database behind `db`. Safe to call from
 * every app instance at start-up: concurrent callers wait for each other and
 * then find nothing left to apply. Resolves with the tags it applied and the
 * installed `pgflow.version()`.
 *
 * @example
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres';
 * import { migratePgflow } from 'pgflow-orm/drizzle';
 *
 * const db = drizzle(pool);
 * const { applied, version } = await migratePgflow(db);
 * console.log(applied.length > 0 ? `installed pgflow ${version}` : `pgflow ${version} is up to date`);
 * ```
 */
export async function migratePgflow(db: DrizzleDatabaseLike): Promise<ApplyResult> {
  return withDedicatedConnection(db, (session) => applyBundledMigrations(session));
}
