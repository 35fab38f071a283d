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
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { compileFlow, sqlLiteral } from '../../flow/compile.js';
import type { AnyFlow } from '../../flow/flow.js';
import { AppFolderError, installedDrizzleKitMajor, migrationFolders } from '../../migrations/app-folder.js';
import { STATEMENT_BREAKPOINT } from '../../migrations/index.js';
import { writeDrizzleMigration, writeFlatMigration, type WrittenMigration } from '../../migrations/write-migration.js';
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

export interface CompileResult extends WrittenMigration {
  format: CompileFormat;
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
  try {
    switch (format) {
      case 'drizzle':
        return { format, ...(await writeDrizzleMigration(out, 'journal', name, drizzleSql(flows), dryRun)) };
      case 'drizzle-folder':
        return { format, ...(await writeDrizzleMigration(out, 'folders', name, drizzleSql(flows), dryRun)) };
      case 'kysely': {
        const extension = kyselyExtension(out);
        return { format, ...writeFlatMigration(out, name, extension, kyselyMigration(flows, extension === '.ts'), isScript, dryRun, now) };
      }
      case 'sql':
        return { format, ...writeFlatMigration(out, name, '.sql', plainSql(flows), (file) => file.endsWith('.sql'), dryRun, now) };
    }
  } catch (error) {
    if (error instanceof AppFolderError) throw new CliError(error.message);
    throw error;
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
