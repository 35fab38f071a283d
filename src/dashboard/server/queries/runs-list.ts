/**
 * The runs list: filtered by flow, status, start time, run id or input
 * containment, newest first, paginated by keyset on run_id (run ids are
 * time-ordered, so run_id order is start order and a page never gets slower
 * however deep it is).
 *
 * Filters use indexes: flow → idx_runs_flow_slug, status → idx_runs_status,
 * time range and cursor → the primary key (see ./run-id-bounds.ts), run id →
 * the primary key. Input containment has no index, so a page looks at no
 * more than SEARCH_SCAN_LIMIT runs (newest first, along the primary key) and
 * hands back a cursor to go on from there.
 */
import type { SqlExecutor } from '../../../core/connection.js';
import type { RunsListData } from '../../api-types.js';
import { badRequest } from '../errors.js';
import { runIdLowerBound, isUuid } from './run-id-bounds.js';
import { runSummaryColumns, toRunSummary, type RunSummaryRow } from './run-summary.js';
import { readSchemaFeatures, type SchemaFeatures } from './schema-features.js';

export const PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;
/** Runs an input search looks at per page. */
export const SEARCH_SCAN_LIMIT = 10_000;
/**
 * A run's id is taken a moment after its started_at (the transaction's start), so an upper time
 * bound on run ids is widened by this much; the started_at condition keeps the result exact.
 */
const RUN_ID_CLOCK_SLACK_MS = 10 * 60 * 1000;

export interface RunsQuery {
  flow: string | null;
  status: string | null;
  from: Date | null;
  to: Date | null;
  /** `q` when it is a run id. */
  runId: string | null;
  /** `q` when it is a JSON object (as text). */
  contains: string | null;
  before: string | null;
  limit: number;
}

const SLUG = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseTime(name: string, value: string): Date {
  const time = new Date(value);
  if (value.trim() === '' || Number.isNaN(time.getTime())) throw badRequest(`${name} must be a date and time such as 2026-01-31T14:00:00Z (got "${value}")`);
  return time;
}

/** Reads and checks the list's query parameters; a malformed one is a 400 with a message saying why. */
export function parseRunsQuery(params: URLSearchParams): RunsQuery {
  const text = (name: string) => {
    const value = params.get(name)?.trim();
    return value === undefined || value === '' ? null : value;
  };
  const flow = text('flow');
  const status = text('status');
  if (status !== null && !SLUG.test(status)) throw badRequest(`status must be a run status: started, completed, failed or cancelled (got "${status}")`);
  const before = text('before');
  if (before !== null && !isUuid(before)) throw badRequest(`before must be a run id (got "${before}")`);
  const fromText = text('from');
  const toText = text('to');
  const from = fromText === null ? null : parseTime('from', fromText);
  const to = toText === null ? null : parseTime('to', toText);
  if (from && to && from >= to) throw badRequest('from must be earlier than to');
  const limitText = text('limit');
  const limit = limitText === null ? PAGE_SIZE : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) throw badRequest(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE} (got "${limitText}")`);

  const q = text('q');
  let runId: string | null = null;
  let contains: string | null = null;
  if (q !== null) {
    if (isUuid(q)) {
      runId = q.toLowerCase();
    } else {
      let parsed: unknown;
      try {
        parsed = JSON.parse(q);
      } catch {
        throw badRequest(`search for a run id or a JSON object the input contains, such as {"orderId": "ord-1"} (got "${q}")`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        throw badRequest(`an input search is a JSON object, such as {"orderId": "ord-1"} (got ${JSON.stringify(parsed)})`);
      }
      contains = JSON.stringify(parsed);
    }
  }
  return { flow, status, from, to, runId, contains, before: before?.toLowerCase() ?? null, limit };
}

/** The WHERE conditions and their values for everything but the input search. */
function conditions(query: RunsQuery, values: unknown[]): string[] {
  const where: string[] = [];
  const param = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  if (query.runId !== null) where.push(`run_id = ${param(query.runId, 'uuid')}`);
  if (query.flow !== null) where.push(`flow_slug = ${param(query.flow, 'text')}`);
  if (query.status !== null) where.push(`status = ${param(query.status, 'text')}`);
  if (query.from !== null) {
    where.push(`run_id >= ${param(runIdLowerBound(query.from), 'uuid')}`);
    where.push(`started_at >= ${param(query.from.toISOString(), 'timestamptz')}`);
  }
  if (query.to !== null) {
    where.push(`run_id < ${param(runIdLowerBound(new Date(query.to.getTime() + RUN_ID_CLOCK_SLACK_MS)), 'uuid')}`);
    where.push(`started_at < ${param(query.to.toISOString(), 'timestamptz')}`);
  }
  if (query.before !== null) where.push(`run_id < ${param(query.before, 'uuid')}`);
  return where;
}

/** The SQL of one page (exported for the plan tests). */
export function runsListSql(query: RunsQuery, features: SchemaFeatures): { text: string; values: unknown[] } {
  const columns = runSummaryColumns(features);
  const values: unknown[] = [];
  const where = conditions(query, values);
  const whereSql = where.length > 0 ? `where ${where.join(' and ')}` : '';
  if (query.contains === null) {
    return { text: `select ${columns} from pgflow.runs ${whereSql} order by run_id desc limit ${query.limit + 1}`, values };
  }
  values.push(query.contains);
  const contains = `$${values.length}::jsonb`;
  return {
    text: `
with scanned as materialized (
  select ${columns}, input @> ${contains} as hit
    from pgflow.runs ${whereSql}
   order by run_id desc
   limit ${SEARCH_SCAN_LIMIT}
)
select (select count(*) from scanned)::int as scanned,
       (select run_id from scanned order by run_id limit 1)::text as last_scanned,
       coalesce((select jsonb_agg(to_jsonb(h) - 'hit' order by h.run_id desc)
                   from (select * from scanned where hit order by run_id desc limit ${query.limit + 1}) h), '[]'::jsonb) as hits`,
    values,
  };
}

export async function readRunsList(db: SqlExecutor, query: RunsQuery): Promise<RunsListData> {
  const { text, values } = runsListSql(query, await readSchemaFeatures(db));
  if (query.contains === null) {
    const rows = await db.query<RunSummaryRow>(text, values);
    const page = rows.slice(0, query.limit);
    return { runs: page.map(toRunSummary), next: rows.length > query.limit ? page.at(-1)!.run_id : null, scanned: null };
  }
  const [result] = await db.query<{ scanned: number; last_scanned: string | null; hits: RunSummaryRow[] }>(text, values);
  const hits = result?.hits ?? [];
  const page = hits.slice(0, query.limit);
  let next: string | null = null;
  if (hits.length > query.limit) next = page.at(-1)!.run_id;
  else if ((result?.scanned ?? 0) >= SEARCH_SCAN_LIMIT) next = result?.last_scanned ?? null;
  return { runs: page.map(toRunSummary), next, scanned: result?.scanned ?? 0 };
}
