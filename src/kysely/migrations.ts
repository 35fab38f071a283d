/**
 * pgflow's migrations for Kysely's `Migrator`: a `MigrationProvider` over the
 * bundled history plus the recommended migrator options.
 *
 * ```ts
 * import { Migrator } from 'kysely';                // Kysely 0.28
 * // import { Migrator } from 'kysely/migration';   // Kysely 0.29
 * import { pgflowMigratorOptions } from 'pgflow-orm/kysely';
 *
 * const { error } = await new Migrator(pgflowMigratorOptions(db)).migrateToLatest();
 * ```
 *
 * The types are structural (no import from 'kysely'), so the same provider
 * fits every Kysely version whose Migrator takes `{ getMigrations() }`.
 *
 * Each migration's `up` takes the package's migration lock for its
 * transaction, so it waits for (and is waited for by) `migratePgflow`, the
 * plain SQL files and other Kysely migrators. A migration that the package's
 * own history table (`drizzle.__pgflow_migrations`) already records, because
 * pgflow was installed through drizzle-kit, `migratePgflow` or psql before,
 * is adopted instead of run again; while that table exists it is kept in step.
 *
 * `down` runs `migrations/down/<tag>.sql`: reverting the first migrations
 * removes pgflow completely (schema `pgflow`, and the built-in queue schema
 * `pgmq` or, when the pgmq extension is used, the flows' queues).
 */
import { readFileSync } from 'node:fs';
import { toExecutor, type KyselyLike, type SqlExecutor } from '../core/connection.js';
import {
  describeOtherInstaller,
  isPgflowInstalled,
  PgflowMigrationError,
  quoteIdent,
  readAppliedMigrations,
  recordMigrationSql,
} from '../migrations/apply.js';
import {
  downMigrationFile,
  KYSELY_MIGRATION_LOCK_TABLE,
  KYSELY_MIGRATION_TABLE,
  MIGRATIONS_SCHEMA,
  MIGRATIONS_TABLE,
  migrationsFolder,
  readMigrations,
  splitStatements,
  type Migration,
} from '../migrations/index.js';
import { MIGRATION_XACT_LOCK_SQL } from '../migrations/lock.js';

export { KYSELY_MIGRATION_LOCK_TABLE, KYSELY_MIGRATION_TABLE };
export { PgflowMigrationError } from '../migrations/apply.js';

/** A Kysely migration (`up`, `down`), typed without depending on a Kysely version. */
export interface PgflowKyselyMigration {
  up(db: KyselyLike): Promise<void>;
  down(db: KyselyLike): Promise<void>;
}

/** Kysely's `MigrationProvider` shape. */
export interface KyselyMigrationProviderLike {
  getMigrations(): Promise<Record<string, PgflowKyselyMigration>>;
}

export interface PgflowMigrationProviderOptions {
  /**
   * @internal The history to offer (the bundled one by default); tests use it
   * to install an older prefix of the history.
   */
  migrations?: readonly Migration[];
  /** @internal Folder holding `down/<tag>.sql` (the bundled migrations folder by default). */
  migrationsFolder?: string;
}

/** Whether the package's history table records the migration (installed through another path). */
async function recordedInPackageHistory(executor: SqlExecutor, migration: Migration): Promise<boolean> {
  const applied = await readAppliedMigrations(executor);
  return applied?.some((row) => row.hash === migration.hash) ?? false;
}

function createMigration(migration: Migration, first: boolean, history: readonly Migration[], folder: string): PgflowKyselyMigration {
  return {
    async up(db) {
      const executor = toExecutor(db);
      await executor.query(MIGRATION_XACT_LOCK_SQL);
      if (await recordedInPackageHistory(executor, migration)) return;
      if (first && (await isPgflowInstalled(executor))) {
        throw new PgflowMigrationError(
          `pgflow is already installed in this database by ${await describeOtherInstaller(executor, history)}.`,
        );
      }
      for (const statement of migration.statements) {
        try {
          await executor.query(statement);
        } catch (error) {
          throw new PgflowMigrationError(`pgflow migration ${migration.tag} failed: ${(error as Error).message}`, { cause: error });
        }
      }
      // Keep the package's history table (drizzle-kit, migratePgflow, psql) in step when it exists.
      if ((await readAppliedMigrations(executor)) !== undefined) await executor.query(recordMigrationSql(migration));
    },
    async down(db) {
      const executor = toExecutor(db);
      let sql: string;
      try {
        sql = readFileSync(downMigrationFile(migration.tag, folder), 'utf8');
      } catch {
        throw new PgflowMigrationError(`pgflow-orm ships no down migration for ${migration.tag}`);
      }
      await executor.query(MIGRATION_XACT_LOCK_SQL);
      for (const statement of splitStatements(sql)) await executor.query(statement);
      if ((await readAppliedMigrations(executor)) !== undefined) {
        await executor.query(
          `delete from ${quoteIdent(MIGRATIONS_SCHEMA)}.${quoteIdent(MIGRATIONS_TABLE)} where hash = '${migration.hash}'`,
        );
      }
    },
  };
}

/**
 * A Kysely `MigrationProvider` over the migrations bundled with the package, named by their tags.
 *
 * @example
 * ```ts
 * import { Kysely, Migrator, PostgresDialect } from 'kysely';
 * import { PgflowMigrationProvider, type PgflowDatabase } from 'pgflow-orm/kysely';
 *
 * const db = new Kysely<PgflowDatabase>({ dialect: new PostgresDialect({ pool }) });
 * const migrator = new Migrator({ db, provider: new PgflowMigrationProvider(), migrationTableName: 'kysely_pgflow_migration', migrationLockTableName: 'kysely_pgflow_migration_lock' });
 * console.log((await migrator.getMigrations()).map((migration) => migration.name));
 * ```
 */
export class PgflowMigrationProvider implements KyselyMigrationProviderLike {
  readonly #migrations: readonly Migration[] | undefined;
  readonly #folder: string;

  constructor(options: PgflowMigrationProviderOptions = {}) {
    this.#migrations = options.migrations;
    this.#folder = options.migrationsFolder ?? migrationsFolder;
  }

  async getMigrations(): Promise<Record<string, PgflowKyselyMigration>> {
    const history = this.#migrations ?? readMigrations();
    return Object.fromEntries(history.map((migration, index) => [migration.tag, createMigration(migration, index === 0, history, this.#folder)]));
  }
}

/** The recommended table names, outside schema `pgflow` and apart from the app's own Kysely migrations. */
export const pgflowMigrationTables = {
  migrationTableName: KYSELY_MIGRATION_TABLE,
  migrationLockTableName: KYSELY_MIGRATION_LOCK_TABLE,
} as const;

/**
 * Options for `new Migrator(...)`: the provider and the recommended table
 * names. Spread and override any of them, e.g. `migrationTableSchema`.
 *
 * @example
 * ```ts
 * import { Kysely, Migrator, PostgresDialect } from 'kysely';
 * import { pgflowMigratorOptions, type PgflowDatabase } from 'pgflow-orm/kysely';
 *
 * const db = new Kysely<PgflowDatabase>({ dialect: new PostgresDialect({ pool }) });
 * const { error, results } = await new Migrator(pgflowMigratorOptions(db)).migrateToLatest();
 * if (error) throw error;
 * console.log(results?.map((result) => result.migrationName));
 * ```
 */
export function pgflowMigratorOptions<TDb>(db: TDb, options: PgflowMigrationProviderOptions = {}) {
  return {
    db,
    provider: new PgflowMigrationProvider(options),
    ...pgflowMigrationTables,
  };
}
