/**
 * `npm run release:cut`: records every migration not released yet as the
 * release of package.json's version.
 *
 * - checks that released files still match their recorded sha256 and that
 *   the new migrations are named `<nnnn>_pgflow_<what>` and end by setting
 *   `pgflow.version()` to the version being released;
 * - (re)writes the generated `migrations/down/<tag>.sql` of the new
 *   function-only migrations (see down-migrations.ts);
 * - writes `migrations/sql/pgflow-orm-<version>.sql`, the plain SQL file of
 *   the release (a delta from the previous release);
 * - proves on a scratch database that the release files, applied in order,
 *   install the version, and that every down file reverts cleanly;
 * - appends the release with the sha256 of every file to releases.json.
 *
 * Options: `--version <x.y.z>` (default: package.json's), `--no-verify`.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions } from '../../src/core/version.js';
import {
  downMigrationFile,
  MIGRATION_TAG_PATTERN,
  migrationsFolder as bundledFolder,
  packageVersion,
  readMigrations,
  schemaVersionOf,
  sha256,
  splitStatements,
  sqlReleaseFile,
  type Migration,
} from '../../src/migrations/index.js';
import { renderReleaseSql } from '../../src/migrations/plain-sql.js';
import { readReleaseManifest, releaseGroups, type ReleaseEntry, type ReleaseGroup } from '../../src/migrations/releases.js';
import { downFileIsGenerated, writeDownMigrations } from './down-migrations.js';
import { writeReleases } from './releases.js';
import { startScratchServer, type ScratchServer } from './scratch.js';

export interface CutReleaseOptions {
  /** The migrations folder (the package's by default). */
  folder?: string;
  /** The version to release (package.json's by default). */
  version?: string;
  /** Prove the release files on a scratch database (default true). */
  verify?: boolean;
  /** A scratch server to use (one is started when needed). */
  server?: ScratchServer;
  log?: (line: string) => void;
}

export interface CutReleaseResult {
  release: ReleaseEntry;
  /** Files written, relative to the migrations folder. */
  written: string[];
}

const readText = (path: string) => readFileSync(path, 'utf8');

/** Problems with files already released: each must still match the hash releases.json recorded. */
export function releasedFileProblems(folder = bundledFolder): string[] {
  const problems: string[] = [];
  const check = (path: string, expected: string, what: string) => {
    if (!existsSync(path)) problems.push(`${what} is missing (${relative(folder, path)})`);
    else if (sha256(readText(path)) !== expected) problems.push(`${what} was edited after its release (${relative(folder, path)})`);
  };
  for (const release of readReleaseManifest(folder).releases) {
    for (const migration of release.migrations) {
      check(join(folder, `${migration.tag}.sql`), migration.sha256, `migration ${migration.tag} of ${release.version}`);
      if (migration.downSha256) check(downMigrationFile(migration.tag, folder), migration.downSha256, `down migration ${migration.tag} of ${release.version}`);
    }
    if (release.sql) check(join(folder, release.sql.file), release.sql.sha256, `the plain SQL file of ${release.version}`);
  }
  return problems;
}

async function withScratch<T>(options: CutReleaseOptions, use: (server: ScratchServer) => Promise<T>): Promise<T> {
  if (options.server) return use(options.server);
  const server = await startScratchServer();
  try {
    return await use(server);
  } finally {
    await server.stop();
  }
}

/** Applies the plain SQL files of `groups` in order and checks the version they leave behind. */
async function verifyPlainSql(server: ScratchServer, files: string[], version: string, migrationCount: number): Promise<void> {
  await server.withDatabase(async (client) => {
    for (const file of files) await client.query(readText(file));
    const { rows } = await client.query<{ version: string; recorded: string }>(
      `select pgflow.version() as version, (select count(*) from drizzle.__pgflow_migrations)::text as recorded`,
    );
    if (rows[0]?.version !== version || Number(rows[0]?.recorded) !== migrationCount) {
      throw new Error(`the release files install ${rows[0]?.version} with ${rows[0]?.recorded} recorded migrations, expected ${version} with ${migrationCount}`);
    }
  });
}

/** Applies the whole history, then every down file newest first, and checks nothing of pgflow is left. */
async function verifyDownFiles(server: ScratchServer, migrations: readonly Migration[], folder: string): Promise<void> {
  await server.withDatabase(async (client) => {
    await client.query('begin');
    for (const migration of migrations) for (const statement of migration.statements) await client.query(statement);
    for (const migration of [...migrations].reverse()) {
      for (const statement of splitStatements(readText(downMigrationFile(migration.tag, folder)))) await client.query(statement);
    }
    const { rows } = await client.query<{ left: string | null }>(
      `select string_agg(nspname, ', ') as left from pg_namespace where nspname in ('pgflow', 'pgmq')`,
    );
    await client.query('rollback');
    if (rows[0]?.left) throw new Error(`after every down migration, schema ${rows[0].left} is still there`);
  });
}

export async function cutRelease(options: CutReleaseOptions = {}): Promise<CutReleaseResult> {
  const folder = options.folder ?? bundledFolder;
  const version = options.version ?? packageVersion();
  const log = options.log ?? console.log;
  const problems = releasedFileProblems(folder);
  if (problems.length > 0) throw new Error(`released files changed:\n- ${problems.join('\n- ')}`);

  const manifest = readReleaseManifest(folder);
  const migrations = readMigrations(folder);
  const groups = releaseGroups(migrations, manifest, version);
  const pending = groups.find((group) => !group.released);
  if (!pending) throw new Error(`every migration is released already (latest: ${manifest.releases.at(-1)?.version}); nothing to cut`);
  if (manifest.releases.some((release) => release.version === version)) throw new Error(`pgflow-orm ${version} is released already`);
  const latest = manifest.releases.at(-1)?.version;
  if (latest && compareVersions(version, latest) <= 0) throw new Error(`${version} is not newer than the latest release ${latest}`);
  for (const migration of pending.migrations) {
    if (!MIGRATION_TAG_PATTERN.test(migration.tag)) {
      throw new Error(`${migration.tag} is not named <nnnn>_pgflow_<what>; copies in apps are recognised by that name (drizzle-kit generate --name pgflow_...)`);
    }
  }
  const setVersion = schemaVersionOf(migrations);
  if (setVersion !== version) {
    throw new Error(`the migrations set pgflow.version() to ${setVersion}, not ${version}: run \`npm run db:functions\` first`);
  }

  const written: string[] = [];
  const previous: ReleaseGroup | undefined = groups[groups.indexOf(pending) - 1];
  const release = { ...pending, version, released: true };
  const verify = options.verify ?? true;
  const sqlPath = sqlReleaseFile(version, folder);
  mkdirSync(dirname(sqlPath), { recursive: true });
  writeFileSync(sqlPath, renderReleaseSql(release, previous));
  written.push(relative(folder, sqlPath));
  const generatedDowns = pending.migrations.filter((migration) => downFileIsGenerated(migration.tag, folder));
  if (generatedDowns.length > 0 || verify) {
    await withScratch(options, async (server) => {
      written.push(...(await writeDownMigrations(server, folder)));
      if (verify) {
        const files = [...groups.filter((group) => group.released).map((group) => sqlReleaseFile(group.version, folder)), sqlPath];
        await verifyPlainSql(server, files, version, migrations.length);
        await verifyDownFiles(server, migrations, folder);
        log('verified: the release files install it in order, and the down files remove it');
      }
    });
  }

  const sqlFile = relative(folder, sqlReleaseFile(version, folder));
  const entry: ReleaseEntry = {
    version,
    migrations: pending.migrations.map((migration) => {
      const down = downMigrationFile(migration.tag, folder);
      return { tag: migration.tag, sha256: migration.hash, ...(existsSync(down) ? { downSha256: sha256(readText(down)) } : {}) };
    }),
    sql: { file: sqlFile, sha256: sha256(readText(join(folder, sqlFile))) },
  };
  writeReleases({ releases: [...manifest.releases, entry] }, folder);
  written.push('releases.json');
  return { release: entry, written };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const versionAt = args.indexOf('--version');
  const version = versionAt >= 0 ? args[versionAt + 1] : undefined;
  const { release, written } = await cutRelease({ version, verify: !args.includes('--no-verify') });
  console.log(`Released pgflow-orm ${release.version}: ${release.migrations.map((migration) => migration.tag).join(', ')}`);
  for (const file of written) console.log(`  wrote migrations/${file}`);
  console.log('Next: publish this version, then set package.json to the next development version (npm version <next> --no-git-tag-version);');
  console.log('`npm run db:functions` then starts that version\'s functions migration.');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
