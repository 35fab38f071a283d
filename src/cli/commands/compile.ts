/**
 * `pgflow-orm compile <module> --out <dir>`: writes the SQL that creates the
 * flows a module exports as a migration for the app's migrator, so flow
 * definitions ship like schema changes:
 *
 * - `drizzle`: drizzle-kit 0.x folder (`<tag>.sql`, a new `meta/_journal.json`
 *   entry newer than the newest one, and a copy of the previous snapshot);
 * - `drizzle-folder`: drizzle-kit 1.0 folder (`<YYYYMMDDHHMMSS>_<name>/migration.sql`);
 * - `kysely`: a TypeScript migration with `up` / `down` for Kysely's Migrator;
 * - `sql`: a plain `.sql` file for psql and other migrators.
 *
 * The migration is named after its flows (`flow_<slug>`, or `--name`) and is
 * recognised by that name: compiling the same flows again writes nothing,
 * and a migration of that name with other SQL is refused (a flow does not
 * change in place; give a changed flow a new slug).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { compileFlow, sqlLiteral } from '../../flow/compile.js';
import type { AnyFlow } from '../../flow/flow.js';
import { addPgflowMigrations, AppFolderError, installedDrizzleKitMajor, migrationFolders, timestampPrefix, type AppFolderLayout } from '../../migrations/app-folder.js';
import { sha256, splitStatements, STATEMENT_BREAKPOINT, type Migration } from '../../migrations/index.js';
import { CliError, type CliCommand } from '../command.js';
import { loadFlows } from './support/flow-module.js';

export const COMPILE_FORMATS = ['drizzle', 'drizzle-folder', 'kysely', 'sql'] as const;
export type CompileFormat = (typeof COMPILE_FORMATS)[number];

interface CompileOptions {
  out: string;
  format?: CompileFormat;
  name?: string;
  flow?: string[];
  dryRun?: boolean;
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** `flow_<slug>` for one flow; `flows_<a>_<b>...` for several (shortened when long). */
export function defaultMigrationName(flows: readonly AnyFlow[]): string {
  if (flows.length === 1) return `flow_${flows[0]!.slug}`;
  const joined = `flows_${flows.map((flow) => flow.slug).join('_')}`;
  return joined.length <= 80 ? joined : `flows_${flows[0]!.slug}_and_${flows.length - 1}_more`;
}

const HEADER = [
  '-- Flow definitions, written by `pgflow-orm compile`. Do not edit: compile the flows again instead.',
  '-- A flow does not change in place: give a changed flow a new slug (e.g. a version suffix).',
];

/** The statements that create the flows, each flow's led by a comment. */
function flowStatements(flows: readonly AnyFlow[]): string[][] {
  return flows.map((flow) => {
    const [first, ...rest] = compileFlow(flow);
    return [`-- flow "${flow.slug}": ${flow.steps.length} step${flow.steps.length === 1 ? '' : 's'}\n${first}`, ...rest];
  });
}

/** SQL for drizzle: statements separated by drizzle-kit's breakpoints. */
export function drizzleSql(flows: readonly AnyFlow[]): string {
  const statements = flowStatements(flows).flat();
  statements[0] = `${HEADER.join('\n')}\n${statements[0]}`;
  return `${statements.join(`\n${STATEMENT_BREAKPOINT}\n`)}\n`;
}

/** A plain SQL script: one statement per line, flows separated by a blank line. */
export function plainSql(flows: readonly AnyFlow[]): string {
  return `${HEADER.join('\n')}\n\n${flowStatements(flows)
    .map((statements) => statements.join('\n'))
    .join('\n\n')}\n`;
}

/** SQL that deletes the flows again, with their runs and queues (for a migration's `down`). */
export function dropFlowsSql(flows: readonly AnyFlow[]): string {
  return [...flows]
    .reverse()
    .map((flow) => {
      const slug = sqlLiteral(flow.slug);
      return [
        `-- flow "${flow.slug}", with all of its runs`,
        ...['step_tasks', 'step_states', 'runs', 'deps', 'steps', 'flows'].map((table) => `DELETE FROM pgflow.${table} WHERE flow_slug = ${slug};`),
        `SELECT pgmq.drop_queue(${slug}) WHERE EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = ${slug});`,
      ].join('\n');
    })
    .join('\n\n');
}

const templateLiteral = (text: string) => '`' + text.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${') + '`';

/**
 * A Kysely migration module that creates the flows and, going down, deletes
 * them: TypeScript, or ES module JavaScript when `typescript` is false.
 */
export function kyselyMigration(flows: readonly AnyFlow[], typescript = true): string {
  const slugs = flows.map((flow) => `"${flow.slug}"`).join(', ');
  const db = typescript ? 'db: Kysely<any>' : 'db';
  const returns = typescript ? ': Promise<void>' : '';
  return `// Flow definitions (${slugs}), written by \`pgflow-orm compile\`. Do not edit: compile the flows again instead.
// A flow does not change in place: give a changed flow a new slug (e.g. a version suffix).
import { sql${typescript ? ', type Kysely' : ''} } from 'kysely';

const createFlows = ${templateLiteral(flowStatements(flows).map((statements) => statements.join('\n')).join('\n\n'))};

const deleteFlows = ${templateLiteral(dropFlowsSql(flows))};

export async function up(${db})${returns} {
  await sql.raw(createFlows).execute(db);
}

/** Deletes the flows together with all of their runs, and their queues. */
export async function down(${db})${returns} {
  await sql.raw(deleteFlows).execute(db);
}
`;
}

/** `.js` / `.mjs` when the folder's newest migration is JavaScript, else `.ts`. */
function kyselyExtension(out: string): '.ts' | '.js' | '.mjs' {
  const newest = existsSync(out) ? readdirSync(out).filter(isScript).sort().at(-1) : undefined;
  if (newest?.endsWith('.mjs')) return '.mjs';
  if (newest?.endsWith('.js')) return '.js';
  return '.ts';
}

// ---- detecting the format ----

const SCRIPT = /\.(ts|mts|cts|js|mjs|cjs)$/;
const isScript = (name: string) => SCRIPT.test(name) && !/\.d\.[mc]?ts$/.test(name);

/**
 * The format of an existing migrations folder: a drizzle-kit journal, drizzle-kit
 * 1.0 migration folders, script files (Kysely) or .sql files. An empty or new
 * folder takes the layout of the drizzle-kit the project has installed.
 */
export function detectFormat(out: string, cwd = process.cwd()): CompileFormat {
  const exists = existsSync(out);
  if (exists && !statSync(out).isDirectory()) throw new CliError(`--out ${out} is a file; pass the migrations folder`);
  if (exists) {
    if (existsSync(join(out, 'meta', '_journal.json'))) return 'drizzle';
    if (migrationFolders(out).length > 0) return 'drizzle-folder';
    const files = readdirSync(out);
    if (files.some(isScript)) return 'kysely';
    if (files.some((name) => name.endsWith('.sql'))) return 'sql';
  }
  const major = installedDrizzleKitMajor(cwd);
  if (major !== undefined) return major >= 1 ? 'drizzle-folder' : 'drizzle';
  throw new CliError(`cannot tell which migrator ${out} is for (it has no migrations yet): pass --format ${COMPILE_FORMATS.join('|')}`);
}

// ---- writing ----

export interface CompileResult {
  format: CompileFormat;
  /** The main file written (or that would be written, or that already holds the flows). */
  path: string;
  status: 'written' | 'unchanged' | 'dry-run';
  /** Other files written (journal, snapshot). */
  alsoWritten: string[];
}

const sameNameError = (path: string) =>
  new CliError(
    `${path} already exists with other SQL. A flow does not change in place: give the changed flow a new slug, ` +
      'or pass --name to write the new definitions as another migration',
  );

async function writeDrizzle(out: string, layout: AppFolderLayout, name: string, sql: string, dryRun: boolean): Promise<Omit<CompileResult, 'format'>> {
  const migration: Migration = { tag: `0000_${name}`, when: 0, sql, statements: splitStatements(sql), hash: sha256(sql) };
  let result;
  try {
    result = await addPgflowMigrations({ out, layout, migrations: [migration], dryRun });
  } catch (error) {
    if (error instanceof AppFolderError) throw new CliError(error.message);
    throw error;
  }
  if (result.modified.length > 0) {
    const tag = result.modified[0]!;
    throw sameNameError(layout === 'journal' ? join(out, `${tag}.sql`) : join(out, tag, 'migration.sql'));
  }
  const added = result.added[0];
  if (!added) {
    const path = layout === 'journal' ? findJournalFile(out, name) : findFolderFile(out, name);
    return { path, status: 'unchanged', alsoWritten: [] };
  }
  const alsoWritten =
    layout === 'journal'
      ? [join(out, 'meta', '_journal.json'), join(out, 'meta', `${/^(\d+)_/.exec(added.tag)?.[1] ?? added.tag}_snapshot.json`)]
      : [join(out, added.tag, 'snapshot.json')];
  return { path: added.path, status: dryRun ? 'dry-run' : 'written', alsoWritten: dryRun ? [] : alsoWritten };
}

function findJournalFile(out: string, name: string): string {
  const journal = JSON.parse(readFileSync(join(out, 'meta', '_journal.json'), 'utf8')) as { entries: { tag: string }[] };
  const tag = journal.entries.find((entry) => entry.tag.replace(/^\d+_/, '') === name)?.tag ?? name;
  return join(out, `${tag}.sql`);
}

function findFolderFile(out: string, name: string): string {
  const folder = migrationFolders(out).find((candidate) => candidate.replace(/^\d{14}_/, '') === name) ?? name;
  return join(out, folder, 'migration.sql');
}

/** The ordering prefix of a flat migrations folder's file names. */
type PrefixStyle = { kind: 'timestamp' } | { kind: 'index'; next: number; width: number } | { kind: 'flyway'; next: number };

const FLYWAY = /^V(\d+)__/;
const NUMBERED = /^(\d+)[_-]/;

function prefixStyle(files: readonly string[]): PrefixStyle {
  const flyway = files.map((file) => FLYWAY.exec(file)).filter((match) => match !== null);
  if (flyway.length > 0) return { kind: 'flyway', next: Math.max(...flyway.map((match) => Number(match[1]))) + 1 };
  const numbered = files.map((file) => NUMBERED.exec(file)?.[1]).filter((prefix): prefix is string => prefix !== undefined && prefix.length !== 14);
  if (numbered.length > 0 && numbered.length === files.filter((file) => NUMBERED.test(file)).length) {
    return { kind: 'index', next: Math.max(...numbered.map(Number)) + 1, width: Math.max(...numbered.map((prefix) => prefix.length)) };
  }
  return { kind: 'timestamp' };
}

const stripPrefix = (file: string) => file.replace(FLYWAY, '').replace(/^\d+[_-]/, '');

/** Writes `<prefix><name><extension>` into a folder of flat migration files (Kysely, plain SQL). */
function writeFlat(out: string, name: string, extension: string, content: string, matches: (file: string) => boolean, dryRun: boolean, now: number): Omit<CompileResult, 'format'> {
  const files = existsSync(out) ? readdirSync(out).filter((file) => !statSync(join(out, file)).isDirectory() && matches(file)).sort() : [];
  const existing = files.find((file) => stripPrefix(file) === `${name}${extension}` || file === `${name}${extension}`);
  if (existing) {
    const path = join(out, existing);
    if (readFileSync(path, 'utf8') !== content) throw sameNameError(path);
    return { path, status: 'unchanged', alsoWritten: [] };
  }
  const style = prefixStyle(files);
  let file: string;
  if (style.kind === 'flyway') file = `V${style.next}__${name}${extension}`;
  else if (style.kind === 'index') file = `${String(style.next).padStart(style.width, '0')}_${name}${extension}`;
  else {
    const newest = files.map((existingFile) => /^(\d{14})_/.exec(existingFile)?.[1]).filter((prefix) => prefix !== undefined).sort().at(-1);
    let stamp = timestampPrefix(now);
    if (newest !== undefined && stamp <= newest) stamp = String(BigInt(newest) + 1n);
    file = `${stamp}_${name}${extension}`;
  }
  const last = files.at(-1);
  if (last !== undefined && style.kind !== 'flyway' && file <= last) {
    throw new CliError(`cannot name the migration so that it sorts after ${last} in ${out}; rename the existing files or pass another --out`);
  }
  const path = join(out, file);
  if (!dryRun) {
    mkdirSync(out, { recursive: true });
    writeFileSync(path, content);
  }
  return { path, status: dryRun ? 'dry-run' : 'written', alsoWritten: [] };
}

export interface CompileToFolderOptions {
  out: string;
  format?: CompileFormat;
  name?: string;
  dryRun?: boolean;
  /** @internal The clock, in milliseconds. */
  now?: () => number;
}

/** Writes the migration that creates `flows` into `options.out` (see the module comment). */
export async function compileToFolder(flows: readonly AnyFlow[], options: CompileToFolderOptions): Promise<CompileResult> {
  const out = resolve(options.out);
  const format = options.format ?? detectFormat(out);
  const name = options.name ?? defaultMigrationName(flows);
  if (!NAME_PATTERN.test(name)) throw new CliError(`--name must be letters, digits, "_" and "-" (at most 100, starting with a letter or digit); got ${JSON.stringify(name)}`);
  const dryRun = options.dryRun ?? false;
  const now = (options.now ?? Date.now)();
  switch (format) {
    case 'drizzle':
      return { format, ...(await writeDrizzle(out, 'journal', name, drizzleSql(flows), dryRun)) };
    case 'drizzle-folder':
      return { format, ...(await writeDrizzle(out, 'folders', name, drizzleSql(flows), dryRun)) };
    case 'kysely': {
      const extension = kyselyExtension(out);
      return { format, ...writeFlat(out, name, extension, kyselyMigration(flows, extension === '.ts'), isScript, dryRun, now) };
    }
    case 'sql':
      return { format, ...writeFlat(out, name, '.sql', plainSql(flows), (file) => file.endsWith('.sql'), dryRun, now) };
  }
}

const APPLY_HINT: Record<CompileFormat, string> = {
  drizzle: 'npx drizzle-kit migrate (or drizzle-orm\'s migrate())',
  'drizzle-folder': 'npx drizzle-kit migrate',
  kysely: "your Kysely Migrator (migrateToLatest())",
  sql: 'psql -1 -v ON_ERROR_STOP=1 -f <file> (or copy it into your migrator\'s folder)',
};

export const compileCommand: CliCommand = {
  register(program: Command) {
    program
      .command('compile')
      .description('write the SQL that creates the flows a module exports as a migration for your migrator')
      .argument('<module>', 'a module exporting flows (.js; .ts with tsx installed or under tsx)')
      .requiredOption('-o, --out <dir>', 'the migrations folder')
      .addOption(new Option('-f, --format <format>', 'drizzle (drizzle-kit 0.x journal), drizzle-folder (drizzle-kit 1.0), kysely, sql; detected from the folder by default').choices([...COMPILE_FORMATS]))
      .option('-n, --name <name>', 'the migration name (default flow_<slug>, or flows_<slug>_<slug>... for several)')
      .option('--flow <slug...>', "compile only these of the module's flows")
      .option('--dry-run', 'print what would be written without writing it')
      .addHelpText(
        'after',
        '\nExamples:\n' +
          '  npx pgflow-orm compile src/flows.ts --out drizzle                 # then: npx drizzle-kit migrate\n' +
          '  npx pgflow-orm compile dist/flows.js --out src/migrations --format kysely\n' +
          '  npx pgflow-orm compile src/flows.ts --out sql --format sql --flow scrape',
      )
      .action(async (module: string, options: CompileOptions) => {
        const flows = await loadFlows(module, options.flow);
        const result = await compileToFolder(flows, options);
        const shown = (path: string) => {
          const nearby = relative(process.cwd(), path);
          return nearby && !nearby.startsWith('..') ? nearby : path;
        };
        const what = flows.map((flow) => `"${flow.slug}"`).join(', ');
        if (result.status === 'unchanged') {
          console.log(`${shown(result.path)} already creates ${what}; nothing to write`);
          return;
        }
        console.log(`${result.status === 'dry-run' ? 'would write' : 'wrote'} ${shown(result.path)} (${result.format}: creates ${what})`);
        for (const path of result.alsoWritten) console.log(`updated ${shown(path)}`);
        if (result.status === 'written') console.log(`Apply it with: ${APPLY_HINT[result.format]}`);
      });
  },
};
