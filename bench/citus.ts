/**
 * --citus <coordinator URL>: the scenarios once more on a Citus cluster. Each
 * measurement gets a fresh database on every node of the cluster, pgflow
 * installed on the coordinator with the package's migrations (drizzle-orm's
 * migrator, as an app would) and distributed with pgflow.distribute_on_citus(),
 * then the same measurement and verification as on the single server, with the
 * workers connected to the coordinator.
 */
import { drizzle } from 'drizzle-orm/node-postgres';
import { migratePgflow } from '../src/drizzle/migrate.js';
import { createCitusDatabase, withClient } from '../test/citus/cluster.js';
import type { BenchConfig, ProtocolName } from './config.js';
import { measureCase, type CaseResult } from './measure-case.js';
import { defineFlow, type Scenario } from './scenarios.js';

/** The protocols measured on Citus: the batched SQL protocol and startWorker with its defaults. */
export const CITUS_PROTOCOLS: readonly ProtocolName[] = ['batched', 'worker'];

/** Those of them that -p names; the batched protocol when it names neither. */
export function citusProtocols(config: BenchConfig): ProtocolName[] {
  const chosen = CITUS_PROTOCOLS.filter((protocol) => config.protocols.includes(protocol));
  return chosen.length > 0 ? chosen : ['batched'];
}

export interface CitusFacts {
  /** e.g. "Citus 13.2.2 on PostgreSQL 15.14, 2 worker nodes". */
  cluster: string;
  workerNodes: number;
}

/**
 * R on Citus: a tenth of the scenario's default (about 1,000 tasks per measurement; the run-by-run path is
 * far slower than one server), unless --runs sets it.
 */
export function citusRunsFor(scenario: Scenario, config: BenchConfig): number {
  return config.runs ?? Math.max(1, Math.ceil(scenario.defaultRuns / 10));
}

export async function readCitusFacts(url: string): Promise<CitusFacts> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ citus: string | null; pg: string; workers: number }>(
      `select (select extversion from pg_extension where extname = 'citus') as citus,
              current_setting('server_version') as pg,
              (select count(*)::int from pg_dist_node where isactive and groupid <> 0) as workers`,
    );
    const row = rows[0]!;
    if (!row.citus) throw new Error(`--citus: ${redact(url)} has no citus extension`);
    return { cluster: `Citus ${row.citus} on PostgreSQL ${row.pg}, ${row.workers} worker node${row.workers === 1 ? '' : 's'}`, workerNodes: row.workers };
  });
}

/** Measures each scenario with each Citus protocol in its own distributed database. */
export async function measureOnCitus(url: string, scenarios: Scenario[], config: BenchConfig, log: (line: string) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const scenario of scenarios) {
    for (const protocol of citusProtocols(config)) {
      const database = await createCitusDatabase(url);
      try {
        await withClient(database.url, async (client) => {
          await migratePgflow(drizzle(client));
          await client.query('select pgflow.distribute_on_citus()');
          await defineFlow(client, scenario);
        });
        const measured = await measureCase(database.url, scenario, protocol, 'empty', { ...config, runs: citusRunsFor(scenario, config), profile: false });
        // The server CPU reading covers the coordinator's processes only: not comparable, so not reported.
        results.push({ ...measured, serverCpuMsPerStep: null });
        log(`  ${scenario.name}/${protocol}/citus: ${Math.round(measured.stepsPerSecond)} steps/s (R=${measured.runs}, ${measured.tasks} tasks) — ${measured.ok ? 'verified' : `VERIFICATION FAILED: ${measured.problems.join('; ')}`}`);
      } finally {
        await database.drop();
      }
    }
  }
  return results;
}

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
