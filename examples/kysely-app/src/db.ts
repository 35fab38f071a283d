import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PgflowDatabase } from 'pgflow-orm/kysely';

/** The app's own tables would go here; pgflow's are merged in. */
interface AppTables {}

export type Database = AppTables & PgflowDatabase;

export const db = new Kysely<Database>({
  dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }),
});
