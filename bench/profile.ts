/**
 * `--profile`: where the server's time goes during a drain, from
 * pg_stat_statements (tracking nested statements too, so the statements inside
 * the engine's functions show up next to the calls the workers send).
 */
import type pg from 'pg';

export interface StatementProfile {
  query: string;
  toplevel: boolean;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
}

export async function resetProfile(client: pg.Client): Promise<void> {
  await client.query('select pg_stat_statements_reset()');
}

export async function readProfile(client: pg.Client, limit = 12): Promise<StatementProfile[]> {
  const result = await client.query<{ query: string; toplevel: boolean; calls: string; total_ms: number; mean_ms: number; rows: string }>(
    `select s.query, s.toplevel, s.calls::text, s.total_exec_time as total_ms, s.mean_exec_time as mean_ms, s.rows::text
     from pg_stat_statements s
     where s.dbid = (select oid from pg_database where datname = current_database())
       and s.query not ilike '%pg_stat_statements%'
     order by s.total_exec_time desc
     limit $1`,
    [limit],
  );
  return result.rows.map((row) => ({
    query: row.query.replace(/\s+/g, ' ').trim(),
    toplevel: row.toplevel,
    calls: Number(row.calls),
    totalMs: row.total_ms,
    meanMs: row.mean_ms,
    rows: Number(row.rows),
  }));
}

export interface WaitShare {
  /** `CPU` (active, no wait event), `Client:ClientRead` (idle: waiting for the worker), or `<type>:<event>`. */
  wait: string;
  share: number;
}

/**
 * Samples what the worker backends are doing (pg_stat_activity) every
 * `intervalMs` until stopped; the result is each state's share of all samples.
 */
export function sampleWaits(client: pg.Client, intervalMs = 20): { stop(): Promise<WaitShare[]> } {
  const counts = new Map<string, number>();
  let running = true;
  const loop = (async () => {
    while (running) {
      const result = await client.query<{ wait: string; n: number }>({
        name: 'bench_sample_waits',
        text: `select case when a.state = 'active' and a.wait_event is null then 'CPU'
                           else coalesce(a.wait_event_type || ':' || a.wait_event, a.state) end as wait,
                      count(*)::integer as n
               from pg_stat_activity a
               where a.datname = current_database() and a.application_name like 'pgflow-bench-%' and a.pid <> pg_backend_pid()
               group by 1`,
      });
      for (const row of result.rows) counts.set(row.wait, (counts.get(row.wait) ?? 0) + row.n);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const total = [...counts.values()].reduce((sum, n) => sum + n, 0) || 1;
      return [...counts.entries()].map(([wait, n]) => ({ wait, share: n / total })).sort((a, b) => b.share - a.share);
    },
  };
}
