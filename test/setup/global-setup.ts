/**
 * Runs once per `vitest run`: finds a server, builds a template database with
 * the package's migrations applied, and hands both to the test files, which
 * clone the template into a fresh database each.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { acquireTestServer } from '../support/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgServer: {
      /** A database on the test server to run CREATE/DROP DATABASE from. */
      adminUrl: string;
      /** A database with the package's migrations applied, cloned for each test file. */
      templateDatabase: string;
      /** A connection string with `__DATABASE__` in place of the database name. */
      urlPattern: string;
    };
  }
}

async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

export default async function setup(project: TestProject) {
  const server = await acquireTestServer();
  const templateDatabase = `pgflow_template_${randomBytes(4).toString('hex')}`;
  const adminUrl = server.urlFor(server.adminDatabase);
  await withClient(adminUrl, (client) => client.query(`create database "${templateDatabase}"`));
  const templateUrl = server.urlFor(templateDatabase);
  await withClient(templateUrl, (client) => migratePgflow(drizzle(client)));
  const version = await withClient(adminUrl, async (client) => (await client.query<{ server_version: string }>('show server_version')).rows[0]?.server_version);
  console.log(`[pgflow-orm tests] PostgreSQL ${version} from ${server.description}`);
  project.provide('pgServer', { adminUrl, templateDatabase, urlPattern: server.urlFor('__DATABASE__') });
  return async () => {
    await withClient(adminUrl, (client) => client.query(`drop database if exists "${templateDatabase}" with (force)`)).catch(() => {});
    await server.stop();
  };
}
