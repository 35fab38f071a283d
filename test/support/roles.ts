/**
 * Login roles for the tests of pgflow's access levels. Roles are
 * cluster-wide, so each gets a random name; after the file its connections
 * are closed, what it was granted in the test database is dropped, and the
 * role with it.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll } from 'vitest';
import { databaseUrl, withAdminClient, type TestDatabase } from './database.js';

export const ROLE_PASSWORD = 'pgflow-role-test';

export interface LoginRole {
  name: string;
  /** `url` with this role's name and password. */
  urlFor(url: string): string;
  /** A connection to `url` as this role (closed after the file). */
  connect(url: string): Promise<pg.Client>;
}

/** Creates login roles on demand; `databases()` lists where to drop their grants after the file. */
export function useLoginRoles(databases: () => string[]): (prefix: string) => Promise<LoginRole> {
  const names: string[] = [];
  const clients: pg.Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.splice(0).map((client) => client.end().catch(() => {})));
    if (names.length === 0) return;
    const list = names.map((name) => `"${name}"`).join(', ');
    await withAdminClient(async (admin) => {
      for (const database of databases()) {
        const { rowCount } = await admin.query(`select 1 from pg_database where datname = $1`, [database]);
        if (!rowCount) continue;
        const client = new pg.Client({ connectionString: databaseUrl(database) });
        await client.connect();
        try {
          await client.query(`drop owned by ${list}`);
        } finally {
          await client.end();
        }
      }
      await admin.query(`drop role if exists ${list}`);
    });
  });
  return async (prefix) => {
    const name = `${prefix}_${randomBytes(4).toString('hex')}`;
    await withAdminClient((admin) => admin.query(`create role "${name}" login password '${ROLE_PASSWORD}'`));
    names.push(name);
    const urlFor = (url: string) => {
      const parsed = new URL(url);
      parsed.username = name;
      parsed.password = ROLE_PASSWORD;
      return parsed.toString();
    };
    return {
      name,
      urlFor,
      async connect(url) {
        const client = new pg.Client({ connectionString: urlFor(url) });
        client.on('error', () => {});
        await client.connect();
        clients.push(client);
        return client;
      },
    };
  };
}

/** Login roles whose grants live in `db`. */
export const useRolesOn = (db: TestDatabase) => useLoginRoles(() => [db.name]);
