/**
 * Renders a planned function migration as a drizzle-kit migration file:
 * statements separated by `--> statement-breakpoint`.
 */
import { STATEMENT_BREAKPOINT } from '../../src/migrations/index.js';
import type { SqlSource } from './sources.js';
import type { FunctionMigrationPlan, PartPlan } from './plan.js';

/** The oldest pgmq extension version the engine works with (message headers arrived in 1.5). */
export const MIN_PGMQ_VERSION = [1, 5] as const;

const isSqlLanguage = (source: SqlSource) => /\blanguage\s+sql\b/i.test(source.sql);

/** The function a source file defines, e.g. `pgflow.step_input` for step_input.sql. */
const definedName = (source: SqlSource) => /create\s+or\s+replace\s+function\s+([a-z_]+\.[a-z_0-9]+)\s*\(/i.exec(source.sql)?.[1]?.toLowerCase();

/**
 * plpgsql bodies are only parsed at creation, SQL bodies are checked against
 * the catalog, so plpgsql files go first; SQL files follow in name order,
 * except that a SQL function comes after the SQL functions it calls.
 */
export function creationOrder(sources: SqlSource[]): SqlSource[] {
  const byName = [...sources].sort((a, b) => a.file.localeCompare(b.file));
  const sql = byName.filter(isSqlLanguage);
  const ordered: SqlSource[] = byName.filter((source) => !isSqlLanguage(source));
  const placed = new Set<SqlSource>();
  const place = (source: SqlSource, path: SqlSource[]) => {
    if (placed.has(source)) return;
    if (path.includes(source)) throw new Error(`SQL functions call each other in a cycle: ${[...path, source].map((item) => item.file).join(' -> ')}`);
    const body = source.sql.toLowerCase();
    for (const callee of sql) {
      const name = definedName(callee);
      if (callee !== source && name && body.includes(`${name}(`)) place(callee, [...path, source]);
    }
    placed.add(source);
    ordered.push(source);
  };
  for (const source of sql) place(source, []);
  return ordered;
}

function dollarQuote(text: string): string {
  for (let n = 0; ; n++) {
    const tag = n === 0 ? '$pgflow_source$' : `$pgflow_source_${n}$`;
    if (!text.includes(tag)) return `${tag}${text}${tag}`;
  }
}

const trimmed = (source: SqlSource) => source.sql.trim();

function executeEach(sources: SqlSource[]): string {
  return sources.map((source) => `  -- src/sql/${source.part}/${source.file}\n  execute ${dollarQuote(`\n${trimmed(source)}\n`)};`).join('\n');
}

const versionCheck = (variable: string) =>
  `string_to_array(split_part(${variable}, '-', 1), '.')::integer[] >= array[${MIN_PGMQ_VERSION.join(', ')}]`;

function renderQueue(queue: PartPlan, dropped: string[]): string | undefined {
  const sources = [...queue.setup, ...creationOrder(queue.functions)];
  const drops = dropped.map((signature) => `  drop function if exists ${signature};`);
  if (queue.firstInstall) {
    return `-- The task queue: the pgmq extension (>= ${MIN_PGMQ_VERSION.join('.')}) when the server has it, otherwise the
-- built-in pgmq-compatible queue in schema pgmq (same functions, arguments and tables).
do $pgflow_queue$
declare
  v_installed text := (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pgmq');
  v_available text := (select a.default_version from pg_catalog.pg_available_extensions a where a.name = 'pgmq');
begin
  if v_installed is not null then
    if not ${versionCheck('v_installed')} then
      raise exception 'the pgmq extension % is installed, but pgflow needs pgmq ${MIN_PGMQ_VERSION.join('.')} or later', v_installed
        using hint = 'Run ALTER EXTENSION pgmq UPDATE, then migrate again.';
    end if;
    return;
  end if;
  if v_available is not null and ${versionCheck('v_available')} then
    create extension pgmq;
    return;
  end if;
${executeEach(sources)}
end;
$pgflow_queue$;`;
  }
  if (sources.length === 0 && drops.length === 0) return undefined;
  return `-- The built-in queue's changed functions (left alone when the database uses the pgmq extension).
do $pgflow_queue$
begin
  if exists (select 1 from pg_catalog.pg_extension e where e.extname = 'pgmq') then
    return;
  end if;
${[...drops, executeEach(sources)].filter(Boolean).join('\n')}
end;
$pgflow_queue$;`;
}

function renderVersion(version: string): string {
  return `-- pgflow.version(): the pgflow-orm release installed in this database; each release redefines it.
create or replace function pgflow.version()
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select '${version}'::text;
$$;`;
}

/**
 * Every release ends by closing pgflow's functions to PUBLIC (they are granted per role with
 * pgflow.grant_worker & co.) and by extending the roles granted before to what the release added.
 */
const ACCESS = `-- Only pgflow's owner runs its functions, unless a role is granted access (pgflow.grant_worker, grant_client,
-- grant_reader, grant_admin); roles granted before this release get what it adds.
revoke execute on all routines in schema pgflow from public;
${STATEMENT_BREAKPOINT}
alter default privileges in schema pgflow revoke execute on routines from public;
${STATEMENT_BREAKPOINT}
select pgflow.refresh_grants();`;

export function renderFunctionMigration(version: string, plan: FunctionMigrationPlan): string {
  const statements: string[] = [];
  const isQueueFunction = (signature: string) => signature.startsWith('pgmq.');
  const queue = renderQueue(plan.queue, plan.dropped.filter(isQueueFunction));
  if (queue) statements.push(queue);
  for (const source of plan.engine.setup) statements.push(`-- src/sql/engine/${source.file}\n${trimmed(source)}`);
  for (const signature of plan.dropped.filter((signature) => !isQueueFunction(signature))) {
    statements.push(`drop ${plan.droppedProcedures.includes(signature) ? 'procedure' : 'function'} if exists ${signature};`);
  }
  for (const source of creationOrder(plan.engine.functions)) statements.push(`-- src/sql/engine/${source.file}\n${trimmed(source)}`);
  statements.push(renderVersion(version));
  statements.push(ACCESS);
  const header = `-- pgflow-orm ${version}: engine functions${plan.queue.firstInstall ? ' and the task queue' : ''}.
-- Generated by \`npm run db:functions\` from src/sql/. A released migration is never edited.
`;
  return `${header}${statements.join(`\n${STATEMENT_BREAKPOINT}\n`)}\n`;
}
