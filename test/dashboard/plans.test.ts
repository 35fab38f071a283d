/**
 * The dashboard's queries stay index scans with 100,000 runs in the tables:
 * EXPLAIN of the exact SQL the runs list (every filter) and the run page
 * send, and of the overview's run counts, read pgflow.runs, step_states and
 * step_tasks through their indexes, never by a sequential scan.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { seedDashboardData, seedFlowSlug } from '../../bench/dashboard-seed.js';
import { flowSql, recentRunsSql, stepStatusesSql } from '../../src/dashboard/server/queries/flow.js';
import { RUNNING_SQL, WINDOW_SQL, windowStart } from '../../src/dashboard/server/queries/overview.js';
import { runIdLowerBound } from '../../src/dashboard/server/queries/run-id-bounds.js';
import { runSql } from '../../src/dashboard/server/queries/run.js';
import { parseRunsQuery, runsListSql as runsListSqlFor } from '../../src/dashboard/server/queries/runs-list.js';
import { CURRENT_FEATURES } from '../../src/dashboard/server/queries/schema-features.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();
const RUNS = 100_000;
const runsListSql = (query: ReturnType<typeof parseRunsQuery>) => runsListSqlFor(query, CURRENT_FEATURES);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/**
 * Every node of a plan that reads one of the runtime tables: [node type, table, index]. A bitmap
 * heap scan reads the table through the bitmap index scans below it, whose indexes are named.
 */
function tableReads(node: PlanNode, found: [string, string, string | undefined][] = []): [string, string, string | undefined][] {
  if (node['Relation Name'] && ['runs', 'step_states', 'step_tasks'].includes(node['Relation Name'])) {
    const index = node['Node Type'] === 'Bitmap Heap Scan' ? bitmapIndexes(node).join(' ') || undefined : node['Index Name'];
    found.push([node['Node Type'], node['Relation Name'], index]);
  }
  for (const child of node.Plans ?? []) tableReads(child, found);
  return found;
}

function bitmapIndexes(node: PlanNode): string[] {
  return [...(node['Node Type'] === 'Bitmap Index Scan' && node['Index Name'] ? [node['Index Name']] : []), ...(node.Plans ?? []).flatMap(bitmapIndexes)];
}

async function reads(text: string, values: unknown[] = []): Promise<[string, string, string | undefined][]> {
  const [row] = await db.query<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(`explain (format json) ${text}`, values);
  return tableReads(row!['QUERY PLAN'][0]!.Plan);
}

const INDEX_SCANS = ['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan'];

function expectIndexReads(found: [string, string, string | undefined][]) {
  expect(found.length).toBeGreaterThan(0);
  for (const [type, table, index] of found) {
    expect(INDEX_SCANS, `${table} is read by a ${type}`).toContain(type);
    expect(index, `${type} on ${table}`).toBeTruthy();
  }
}

let someRun: string;
let middleRun: string;

beforeAll(async () => {
  const client = await db.connect();
  await seedDashboardData(client, { runs: RUNS, flows: 4, stepsPerFlow: 1 });
  const [counts] = await db.query<{ runs: number; states: number; tasks: number }>(
    `select (select count(*) from pgflow.runs)::int as runs, (select count(*) from pgflow.step_states)::int as states, (select count(*) from pgflow.step_tasks)::int as tasks`,
  );
  expect(counts).toEqual({ runs: RUNS, states: RUNS, tasks: RUNS });
  const statuses = await db.query<{ status: string }>(`select distinct status from pgflow.runs order by status`);
  expect(statuses.map((row) => row.status)).toEqual(['cancelled', 'completed', 'failed', 'started']);
  [{ run_id: someRun }] = await db.query<{ run_id: string }>(`select run_id from pgflow.runs where status = 'failed' order by run_id desc limit 1`) as [{ run_id: string }];
  [{ run_id: middleRun }] = await db.query<{ run_id: string }>(`select run_id from pgflow.runs order by run_id offset 50000 limit 1`) as [{ run_id: string }];
}, 240_000);

describe(`with ${RUNS.toLocaleString('en')} runs`, () => {
  const listCases: Record<string, Record<string, string>> = {
    'no filter': {},
    'a flow': { flow: seedFlowSlug(2) },
    'failed runs': { status: 'failed' },
    'cancelled runs of a flow': { status: 'cancelled', flow: seedFlowSlug(3) },
    'running runs of a flow': { status: 'started', flow: seedFlowSlug(0) },
    'completed runs': { status: 'completed' },
    'the last hour': { from: new Date(Date.now() - 3_600_000).toISOString() },
    'a time range of a flow': { flow: seedFlowSlug(1), from: new Date(Date.now() - 30 * 3_600_000).toISOString(), to: new Date(Date.now() - 29 * 3_600_000).toISOString() },
    'an input search': { q: '{"customer": "cus-42"}' },
  };

  it.each(Object.keys(listCases))('the runs list, %s: first page and a deep page read runs by index', async (name) => {
    const params = listCases[name]!;
    const first = runsListSql(parseRunsQuery(new URLSearchParams(params)));
    expectIndexReads(await reads(first.text, first.values));
    const deep = runsListSql(parseRunsQuery(new URLSearchParams({ ...params, before: middleRun })));
    expectIndexReads(await reads(deep.text, deep.values));
  });

  it('the runs list by run id reads the primary key', async () => {
    const byId = runsListSql(parseRunsQuery(new URLSearchParams({ q: someRun })));
    expect(await reads(byId.text, byId.values)).toEqual([['Index Scan', 'runs', 'runs_pkey']]);
  });

  it('the run page reads the run, its step states and its tasks by primary key', async () => {
    const found = await reads(runSql(CURRENT_FEATURES), [someRun]);
    expectIndexReads(found);
    expect(new Set(found.map(([, table, index]) => `${table}:${index}`))).toEqual(new Set(['runs:runs_pkey', 'step_states:step_states_pkey', 'step_tasks:step_tasks_pkey']));
    expect(await reads(flowSql(CURRENT_FEATURES), [seedFlowSlug(0)])).toEqual([]);
  });

  it('the flow page and the overview read runs by index', async () => {
    expectIndexReads(await reads(recentRunsSql(CURRENT_FEATURES), [seedFlowSlug(3)]));
    expectIndexReads(await reads(stepStatusesSql(CURRENT_FEATURES), [someRun]));
    expectIndexReads(await reads(RUNNING_SQL));
    // The last hour's runs through the primary key. (The seeded runs span two days, so the day window
    // covers half the table, which PostgreSQL rightly reads in one sequential pass.)
    const since = windowStart('hour', new Date());
    expectIndexReads(await reads(WINDOW_SQL, [runIdLowerBound(since), since.toISOString(), new Date(Date.now() + 3_600_000).toISOString(), 300]));
  });
});
