/**
 * `assertCompatibleSchema(db)`: the runtime accepts only the schema version
 * its bundled migrations install, and says what to run otherwise.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { describe, expect, it } from 'vitest';
import { assertCompatibleSchema, compareVersions, PgflowSchemaVersionError, supportedSchemaVersion } from '../../src/core/version.js';
import { migratePgflow } from '../../src/drizzle/migrate.js';
import { pgflowMigratorOptions } from '../../src/kysely/migrations.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { readMigrations, schemaVersionOf } from '../../src/migrations/index.js';
import { toExecutor } from '../../src/core/connection.js';
import { useFreshDatabases } from './support/databases.js';
import { POSTGRES_JS } from '../support/postgres-js.js';

const freshDatabase = useFreshDatabases();
const supported = supportedSchemaVersion();

async function refusal(db: Parameters<typeof assertCompatibleSchema>[0]): Promise<PgflowSchemaVersionError> {
  const error = await assertCompatibleSchema(db).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PgflowSchemaVersionError);
  return error as PgflowSchemaVersionError;
}

const setInstalledVersion = (version: string) =>
  `create or replace function pgflow.version() returns text language sql immutable set search_path = '' as $$ select '${version}'::text $$`;

describe('assertCompatibleSchema', () => {
  it('supports the version the bundled migrations install', () => {
    expect(supported).toBe(schemaVersionOf(readMigrations()));
  });

  it('says how to install pgflow when it is not installed', async () => {
    const database = await freshDatabase();
    const error = await refusal(database.pool());
    expect(error.problem).toBe('not-installed');
    expect(error.message).toContain('pgflow is not installed in this database');
    expect(error.message).toContain('npx drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts');
    expect(error.message).toContain('migratePgflow(db)');
  });

  it('accepts the supported version through every kind of connection', async () => {
    const database = await freshDatabase();
    await migratePgflow(drizzle(database.pool()));
    expect(await assertCompatibleSchema(database.pool())).toBe(supported);
    expect(await assertCompatibleSchema(drizzle(database.pool()))).toBe(supported);
    const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: database.pool() }) });
    expect(await assertCompatibleSchema(kysely)).toBe(supported);
    for (const driver of POSTGRES_JS) {
      const sql = driver.connect(database.url, { max: 1 });
      try {
        expect(await assertCompatibleSchema(sql)).toBe(supported);
      } finally {
        await sql.end();
      }
    }
  });

  it('refuses an older schema and names the command of the migrator that installed it', async () => {
    const viaDrizzle = await freshDatabase();
    await migratePgflow(drizzle(viaDrizzle.pool()));
    await viaDrizzle.query(setInstalledVersion('0.0.1'));
    const drizzleError = await refusal(viaDrizzle.pool());
    expect(drizzleError).toMatchObject({ problem: 'older', installed: '0.0.1', supported });
    expect(drizzleError.message).toContain(`version 0.0.1, older than the ${supported} this pgflow-orm needs`);
    expect(drizzleError.message).toContain('npx drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts');

    const viaKysely = await freshDatabase();
    const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: viaKysely.pool() }) });
    expect((await new Migrator(pgflowMigratorOptions(kysely)).migrateToLatest()).error).toBeUndefined();
    await viaKysely.query(setInstalledVersion('0.0.1'));
    const kyselyError = await refusal(kysely);
    expect(kyselyError.problem).toBe('older');
    expect(kyselyError.message).toContain('pgflowMigratorOptions(db)');
    expect(kyselyError.message).not.toContain('drizzle-kit');
  });

  it('refuses a newer schema and asks for a newer package', async () => {
    const database = await freshDatabase();
    await migratePgflow(drizzle(database.pool()));
    await database.query(setInstalledVersion('999.0.0'));
    const error = await refusal(database.pool());
    expect(error).toMatchObject({ problem: 'newer', installed: '999.0.0' });
    expect(error.message).toContain('newer than the');
    expect(error.message).toContain('npm install pgflow-orm@^999.0.0');
  });

  it('refuses a half-finished install', async () => {
    const database = await freshDatabase();
    const client = await database.connect();
    await applyBundledMigrations(toExecutor(client), { migrations: readMigrations().slice(0, 1) });
    const error = await refusal(database.pool());
    expect(error.problem).toBe('incomplete');
    expect(error.message).toContain('only partly installed');
  });

  it('orders versions as semantic versions', () => {
    expect(compareVersions('0.1.0', '0.2.0')).toBe(-1);
    expect(compareVersions('0.10.0', '0.9.1')).toBe(1);
    expect(compareVersions('1.0.0-rc.1', '1.0.0')).toBe(-1);
    expect(compareVersions('1.0.0-rc.2', '1.0.0-rc.10')).toBe(-1);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
  });
});
