/**
 * Batched starts: W connections call pgflow.start_flows(flow, inputs[]) with
 * batches of B inputs until R runs exist → runs/s, next to start_flow/s (one
 * run per call). Verifies that exactly R runs exist, each with its root tasks
 * queued.
 */
import type pg from 'pg';
import { closeClients, openClients, runLoops, secondsSince } from './connections.js';
import { runInput, type Scenario } from './scenarios.js';

export interface BatchedStartResult {
  scenario: Scenario['name'];
  workers: number;
  batchSize: number;
  runs: number;
  seconds: number;
  runsPerSecond: number;
  ok: boolean;
  problems: string[];
}

const START_FLOWS = 'select count(*)::integer as n from pgflow.start_flows($1::text, $2::text[]::jsonb[])';

export async function measureBatchedStarts(url: string, scenario: Scenario, workers: number, batchSize: number, runs: number): Promise<BatchedStartResult> {
  const clients = await openClients(url, workers);
  try {
    let next = 0;
    let started = 0;
    let failed = false;
    const began = performance.now();
    await runLoops(
      clients,
      async (client: pg.Client) => {
        while (!failed && next < runs) {
          const first = next;
          const count = Math.min(batchSize, runs - first);
          next += count;
          const inputs = Array.from({ length: count }, (_, i) => JSON.stringify(runInput(scenario, first + i, null)));
          const result = await client.query<{ n: number }>({ name: 'bench_start_flows', text: START_FLOWS, values: [scenario.flowSlug, inputs] });
          started += result.rows[0]?.n ?? 0;
        }
      },
      () => {
        failed = true;
      },
    );
    const seconds = secondsSince(began);
    const control = clients[0]!;
    const roots = scenario.steps.filter((step) => step.deps.length === 0).length;
    const row = (
      await control.query<{ runs: number; tasks: number }>(
        `select (select count(*)::integer from pgflow.runs where flow_slug = $1) as runs,
                (select count(*)::integer from pgflow.step_tasks where flow_slug = $1 and status = 'queued') as tasks`,
        [scenario.flowSlug],
      )
    ).rows[0];
    const problems: string[] = [];
    if (started !== runs) problems.push(`start_flows returned ${started} runs, expected ${runs}`);
    if (row?.runs !== runs) problems.push(`runs in the table: ${row?.runs}, expected ${runs}`);
    if (row?.tasks !== runs * roots) problems.push(`queued root tasks: ${row?.tasks}, expected ${runs * roots}`);
    return { scenario: scenario.name, workers, batchSize, runs, seconds, runsPerSecond: runs / seconds, ok: problems.length === 0, problems };
  } finally {
    await closeClients(clients);
  }
}
