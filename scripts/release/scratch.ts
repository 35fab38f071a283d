/**
 * A throw-away database for the release tools: on the server at
 * DATABASE_URL when set, otherwise on an embedded PostgreSQL started for it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../src/embedded/index.js';
import type { Migration } from '../../src/migrations/index.js';

export interface ScratchServer {
  /** Creates an empty database, runs `use` with a client on it, and drops it. */
  withDatabase<T>(use: (client: pg.Client) => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function startScratchServer(): Promise<ScratchServer> {
  const databaseUrl = process.env.DATABASE_URL;
  const embedded = databaseUrl ? undefined : await startEmbeddedPostgres();
  const urlFor = (database: string) => {
    if (embedded) return embedded.urlFor(database);
    const url = new URL(databaseUrl!);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const admin = new pg.Client({ connectionString: embedded?.connectionString ?? databaseUrl });
  await admin.connect();
  return {
    async withDatabase(use) {
      const name = `pgflow_scratch_${randomBytes(5).toString('hex')}`;
      await admin.query(`create database "${name}"`);
      const client = new pg.Client({ connectionString: urlFor(name) });
      await client.connect();
      try {
        return await use(client);
      } finally {
        await client.end();
        await admin.query(`drop database "${name}" with (force)`);
      }
    },
    async stop() {
      await admin.end();
      await embedded?.stop();
    },
  };
}

/** Applies migrations statement by statement in one transaction, as drizzle's migrator does. */
export async function applyMigrations(client: pg.ClientBase, migrations: Migration[]): Promise<void> {
  await client.query('begin');
  try {
    for (const migration of migrations) {
      for (const statement of migration.statements) {
        try {
          await client.query(statement);
        } catch (error) {
          throw new Error(`migration ${migration.tag} failed: ${(error as Error).message}\n--- statement ---\n${statement.trim().slice(0, 2000)}`);
        }
      }
    }
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  }
}
