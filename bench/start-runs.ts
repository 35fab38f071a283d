/**
 * The start phase: W connections call pgflow.start_flow in a loop until R
 * runs exist. Its rate is reported as start_flow/s.
 */
import type pg from 'pg';
import { runLoops, secondsSince } from './connections.js';

export interface StartResult {
  runIds: string[];
  seconds: number;
  perSecond: number;
}

const START_FLOW = 'select run_id from pgflow.start_flow($1::text, $2::jsonb)';

export async function startRuns(clients: pg.Client[], flowSlug: string, runs: number, input: (n: number) => unknown): Promise<StartResult> {
  const runIds: string[] = [];
  let next = 0;
  let failed = false;
  const began = performance.now();
  await runLoops(
    clients,
    async (client) => {
      while (!failed && next < runs) {
        const number = next++;
        const result = await client.query<{ run_id: string }>({ name: 'bench_start_flow', text: START_FLOW, values: [flowSlug, JSON.stringify(input(number))] });
        const runId = result.rows[0]?.run_id;
        if (!runId) throw new Error(`pgflow.start_flow('${flowSlug}') returned no run`);
        runIds.push(runId);
      }
    },
    () => {
      failed = true;
    },
  );
  const seconds = secondsSince(began);
  return { runIds, seconds, perSecond: runs / seconds };
}
