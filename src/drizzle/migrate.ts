/**
 * `migratePgflow(db)`: applies the package's bundled migrations with
 * drizzle-orm's own migrator, recorded in the package's migrations table and
 * serialised by a session advisory lock held on one dedicated connection.
 */
import { MIGRATIONS_SCHEMA, MIGRATIONS_TABLE, migrationsFolder } from '../migrations/index.js';
import { MIGRATION_LOCK_SQL, MIGRATION_UNLOCK_SQL } from '../migrations/lock.js';

/** A Drizzle database built on node-postgres (`pg`) or postgres.js. */
export interface DrizzleDatabaseLike {
  $client: unknown;
}

interface PgQueryable {
  query(sql: string): Promise<unknown>;
}
interface PgPool extends PgQueryable {
  connect(): Promise<PgQueryable & { release(error?: Error | boolean): void }>;
  totalCount: number;
}
interface PostgresJsReserved {
  unsafe(sql: string): Promise<unknown>;
  release(): void;
}
interface PostgresJsSql {
  reserve(): Promise<PostgresJsReserved>;
}

const migrationConfig = {
  migrationsFolder,
  migrationsTable: MIGRATIONS_TABLE,
  migrationsSchema: MIGRATIONS_SCHEMA,
};

function isPostgresJs(client: unknown): client is PostgresJsSql {
  return typeof client === 'function' && typeof (client as Partial<PostgresJsSql>).reserve === 'function';
}

function isPgPool(client: unknown): client is PgPool {
  return typeof client === 'object' && client !== null && 'totalCount' in client && typeof (client as PgPool).connect === 'function';
}

function isPgClient(client: unknown): client is PgQueryable {
  return typeof client === 'object' && client !== null && typeof (client as PgQueryable).query === 'function';
}

async function migrateWithPg(client: PgQueryable): Promise<void> {
  const [{ drizzle }, { migrate }] = await Promise.all([import('drizzle-orm/node-postgres'), import('drizzle-orm/node-postgres/migrator')]);
  await client.query(MIGRATION_LOCK_SQL);
  try {
    await migrate(drizzle(client as never), migrationConfig);
  } finally {
    await client.query(MIGRATION_UNLOCK_SQL);
  }
}

async function migrateWithPostgresJs(sql: PostgresJsSql): Promise<void> {
  const [{ drizzle }, { migrate }] = await Promise.all([import('drizzle-orm/postgres-js'), import('drizzle-orm/postgres-js/migrator')]);
  const reserved = await sql.reserve();
  try {
    await reserved.unsafe(MIGRATION_LOCK_SQL);
    try {
      await migrate(drizzle(reserved as never), migrationConfig);
    } finally {
      await reserved.unsafe(MIGRATION_UNLOCK_SQL);
    }
  } finally {
    reserved.release();
  }
}

/**
 * Installs or upgrades pgflow in the database behind `db`. Safe to call from
 * every app instance at start-up: concurrent callers wait for each other and
 * then find nothing left to apply.
 */
export async function migratePgflow(db: DrizzleDatabaseLike): Promise<void> {
  const client = db.$client;
  if (isPostgresJs(client)) return migrateWithPostgresJs(client);
  if (isPgPool(client)) {
    const connection = await client.connect();
    try {
      await migrateWithPg(connection);
    } finally {
      connection.release();
    }
    return;
  }
  if (isPgClient(client)) return migrateWithPg(client);
  throw new TypeError('migratePgflow: expected a Drizzle database built on node-postgres (pg) or postgres.js');
}
