/**
 * The installed pgflow schema must be the one this copy of the package was
 * built for: the version its bundled migrations install. Anything else (an
 * older schema not upgraded yet, a newer one installed by a newer package,
 * or no pgflow at all) is refused with a message that says what to run.
 */
import { installedVersion, isPgflowInstalled, readAppliedMigrations } from '../migrations/apply.js';
import { bundledSchemaVersion, KYSELY_MIGRATION_TABLE } from '../migrations/index.js';
import { toExecutor, type PgflowConnection, type SqlExecutor } from './connection.js';

export type SchemaProblem = 'not-installed' | 'incomplete' | 'older' | 'newer';

/**
 * The installed pgflow schema is missing, older or newer than this package supports.
 *
 * @example
 * ```ts
 * import { assertCompatibleSchema, PgflowSchemaVersionError } from 'pgflow-orm';
 *
 * await assertCompatibleSchema(pool).catch((error: unknown) => {
 *   if (error instanceof PgflowSchemaVersionError && error.problem === 'older') console.error(error.message); // names the upgrade command
 *   else throw error;
 * });
 * ```
 */
export class PgflowSchemaVersionError extends Error {
  override name = 'PgflowSchemaVersionError';
  constructor(
    message: string,
    readonly problem: SchemaProblem,
    /** `pgflow.version()` in the database, if it has one. */
    readonly installed: string | undefined,
    /** The schema version this package works with. */
    readonly supported: string,
  ) {
    super(message);
  }
}

/**
 * The pgflow schema version this package installs and works with.
 *
 * @example
 * ```ts
 * import { supportedSchemaVersion } from 'pgflow-orm';
 *
 * console.log(supportedSchemaVersion()); // e.g. "0.4.0"
 * ```
 */
export function supportedSchemaVersion(): string {
  return bundledSchemaVersion();
}

interface ParsedVersion {
  core: number[];
  prerelease: string[];
}

function parseVersion(version: string): ParsedVersion {
  const [main = '', ...rest] = version.split('+')[0]!.split('-');
  return { core: main.split('.').map((part) => Number.parseInt(part, 10) || 0), prerelease: rest.join('-').split('.').filter(Boolean) };
}

/**
 * Semantic-version order: negative when `a` is older than `b`.
 *
 * @example
 * ```ts
 * import { compareVersions } from 'pgflow-orm';
 *
 * console.log(compareVersions('0.3.0', '0.4.0') < 0); // true
 * ```
 */
export function compareVersions(a: string, b: string): number {
  const left = parseVersion(a);
  const right = parseVersion(b);
  for (let index = 0; index < Math.max(left.core.length, right.core.length); index++) {
    const difference = (left.core[index] ?? 0) - (right.core[index] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  if (left.prerelease.length === 0 || right.prerelease.length === 0) return Math.sign(right.prerelease.length - left.prerelease.length);
  for (let index = 0; index < Math.max(left.prerelease.length, right.prerelease.length); index++) {
    const x = left.prerelease[index];
    const y = right.prerelease[index];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const difference = numeric ? Number(x) - Number(y) : x.localeCompare(y);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}

const COMMANDS = {
  drizzleKit: 'npx drizzle-kit migrate --config node_modules/pgflow-orm/drizzle.config.ts',
  programmatic: 'await migratePgflow(db) (from pgflow-orm/drizzle)',
  appFolder: 'npx pgflow-orm drizzle add --out <your migrations folder>, then npx drizzle-kit migrate',
  kysely: 'your pgflow Kysely migrator: new Migrator(pgflowMigratorOptions(db)).migrateToLatest() (from pgflow-orm/kysely)',
  plainSql: 'psql -v ON_ERROR_STOP=1 -f node_modules/pgflow-orm/migrations/sql/pgflow-orm-<version>.sql, for each newer release in order',
};

/** Which command upgrades this database, judged by the migrator that installed it. */
async function upgradeCommand(executor: SqlExecutor): Promise<string> {
  const applied = await readAppliedMigrations(executor).catch(() => undefined);
  if (applied && applied.length > 0) return `run \`${COMMANDS.drizzleKit}\` or call \`${COMMANDS.programmatic}\``;
  const [kysely] = await executor.query(
    `select 1 from pg_catalog.pg_class where relname = '${KYSELY_MIGRATION_TABLE}' and relkind = 'r' limit 1`,
  );
  if (kysely) return `run ${COMMANDS.kysely}`;
  return `run the migrator that installed it: \`${COMMANDS.drizzleKit}\`, \`${COMMANDS.programmatic}\`, \`${COMMANDS.appFolder}\`, ${COMMANDS.kysely}, or ${COMMANDS.plainSql}`;
}

/**
 * Resolves with the installed version when it is the one this package
 * supports; otherwise rejects with a `PgflowSchemaVersionError`.
 *
 * @example
 * ```ts
 * import { assertCompatibleSchema } from 'pgflow-orm';
 *
 * const version = await assertCompatibleSchema(pool); // rejects when pgflow is missing, older or newer
 * console.log(`pgflow ${version}`);
 * ```
 */
export async function assertCompatibleSchema(db: PgflowConnection): Promise<string> {
  const executor = toExecutor(db);
  const supported = supportedSchemaVersion();
  if (!(await isPgflowInstalled(executor))) {
    throw new PgflowSchemaVersionError(
      `pgflow is not installed in this database (no schema "pgflow"). pgflow-orm ${supported} needs it installed first: ` +
        `run \`${COMMANDS.drizzleKit}\`, call \`${COMMANDS.programmatic}\`, or use ${COMMANDS.kysely}.`,
      'not-installed',
      undefined,
      supported,
    );
  }
  const installed = await installedVersion(executor);
  if (installed === undefined) {
    throw new PgflowSchemaVersionError(
      `pgflow is only partly installed in this database (schema "pgflow" exists but pgflow.version() does not); ` +
        `finish the install: ${await upgradeCommand(executor)}.`,
      'incomplete',
      undefined,
      supported,
    );
  }
  const order = compareVersions(installed, supported);
  if (order < 0) {
    throw new PgflowSchemaVersionError(
      `the pgflow schema in this database is version ${installed}, older than the ${supported} this pgflow-orm needs; ` +
        `upgrade it: ${await upgradeCommand(executor)}.`,
      'older',
      installed,
      supported,
    );
  }
  if (order > 0) {
    throw new PgflowSchemaVersionError(
      `the pgflow schema in this database is version ${installed}, newer than the ${supported} this pgflow-orm supports; ` +
        `upgrade the pgflow-orm package to ${installed} or later (npm install pgflow-orm@^${installed}).`,
      'newer',
      installed,
      supported,
    );
  }
  return installed;
}
