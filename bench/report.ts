/**
 * Printing: the ceilings, one table row per measurement, every throughput as
 * a ratio to the ceilings, a summary against the targets, and the JSON file.
 */
import { writeFile } from 'node:fs/promises';
import type { CeilingMeasurement } from './ceiling.js';
import { ceilingWorkers, isWorkerProtocol, settingsFor, type BenchConfig } from './config.js';
import { UPSTREAM_LABEL } from './upstream.js';
import type { BatchedStartResult } from './start-batched.js';
import { latencyRows, type LatencyResult } from './latency.js';
import type { CaseResult } from './measure-case.js';
import { SCENARIOS } from './scenarios.js';
import type { ServerFacts } from './server.js';

export interface Ceilings {
  /** One measurement before the scenarios, and one after unless --quick. */
  updateLoop: CeilingMeasurement[];
  /** The same loop with one pg_notify per transaction (not a ratio base: a reference for the engine's events). */
  notifyLoop: CeilingMeasurement[];
  pgbench: CeilingMeasurement[];
  pgbenchNote: string;
}

export interface BenchReport {
  server: string;
  facts: ServerFacts;
  pgflowVersion: string;
  queue: string;
  config: BenchConfig;
  ceilings: Ceilings;
  history?: { runs: number; tasks: number; seconds: number; databaseBytes: number };
  cases: CaseResult[];
  /** Runs started with pgflow.start_flows in batches. */
  batchedStart?: BatchedStartResult;
  /** The latency scenario, one entry per arrival rate. */
  latency?: LatencyResult[];
  /** --upstream: pgflow 0.8.1 measured with the per-task protocol on empty tables. */
  upstream?: CaseResult[];
  /** --citus: the cluster, and the scenarios measured on it (batched and worker protocols, empty tables). */
  citus?: { cluster: string; cases: CaseResult[] };
  startedAt: string;
  finishedAt: string;
}

const mean = (values: number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;

export function updateLoopTps(ceilings: Ceilings): number {
  return mean(ceilings.updateLoop.map((m) => m.tps));
}

export function pgbenchTps(ceilings: Ceilings): number | null {
  return ceilings.pgbench.length > 0 ? mean(ceilings.pgbench.map((m) => m.tps)) : null;
}

function int(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

function ratio(value: number, ceiling: number | null): string {
  return ceiling ? `${fixed(value / ceiling, 2)}×` : '-';
}

function bytes(value: number): string {
  if (value >= 1024 * 1024 * 1024) return `${fixed(value / 1024 ** 3, 1)} GB`;
  if (value >= 1024 * 1024) return `${fixed(value / 1024 ** 2, 1)} MB`;
  if (value >= 1024) return `${fixed(value / 1024, 1)} kB`;
  return `${Math.round(value)} B`;
}

/** Left-aligns text columns, right-aligns the rest. */
export function table(header: string[], rows: string[][], textColumns = 1): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < textColumns ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line)].join('\n');
}

export function formatCeilings(ceilings: Ceilings, config: BenchConfig): string {
  const lines = ['Hardware ceiling on the same server'];
  const loop = ceilings.updateLoop.map((m) => int(m.tps)).join(' / ');
  lines.push(`  one-row UPDATE loop, ${ceilingWorkers(config)} node-postgres connections: ${int(updateLoopTps(ceilings))} TPS` + (ceilings.updateLoop.length > 1 ? ` (mean of ${loop})` : ''));
  if (ceilings.notifyLoop.length > 0) {
    const notify = ceilings.notifyLoop.map((m) => int(m.tps)).join(' / ');
    lines.push(
      `  the same UPDATE + one pg_notify per transaction: ${int(mean(ceilings.notifyLoop.map((m) => m.tps)))} TPS` +
        (ceilings.notifyLoop.length > 1 ? ` (mean of ${notify})` : '') +
        ' (reference only: commits that notify are serialised server-wide)',
    );
  }
  if (ceilings.pgbench.length > 0) {
    const runs = ceilings.pgbench.map((m) => int(m.tps)).join(' / ');
    lines.push(`  pgbench -N -c ${config.pgbenchClients} -j ${config.pgbenchClients} (scale ${config.pgbenchScale}): ${int(pgbenchTps(ceilings) ?? Number.NaN)} TPS` + (ceilings.pgbench.length > 1 ? ` (mean of ${runs})` : ''));
  } else {
    lines.push(`  pgbench -N: not measured (${ceilings.pgbenchNote})`);
  }
  return lines.join('\n');
}

export function formatCases(cases: CaseResult[]): string {
  const header = ['scenario', 'protocol', 'tables', 'W', 'batch', 'runs', 'tasks', 'start_flow/s', 'steps/s', 'runs/s', 'drain s', 'p50 s', 'p95 s', 'active p50', 'active p95', 'calls/step', 'WAL/step', 'CPU/step', 'verified'];
  const rows = cases.map((c) => [
    c.scenario,
    c.protocol,
    c.tables,
    int(c.workers),
    int(c.batchSize),
    int(c.runs),
    int(c.tasks),
    int(c.startFlowPerSecond),
    int(c.stepsPerSecond),
    int(c.runsPerSecond),
    fixed(c.drainSeconds, 2),
    fixed(c.latency.sinceDrainStart.p50, 2),
    fixed(c.latency.sinceDrainStart.p95, 2),
    fixed(c.latency.active.p50, 3),
    fixed(c.latency.active.p95, 3),
    fixed(c.callsPerStep, 2),
    bytes(c.walBytesPerStep),
    c.serverCpuMsPerStep === null ? '-' : `${int(c.serverCpuMsPerStep * 1000)} µs`,
    c.ok ? 'yes' : 'NO',
  ]);
  const legend = [
    'p50/p95 s: run completed_at − the moment draining began (all runs are started before draining);',
    'active p50/p95: run completed_at − started_at of its first task; calls/step: statements (each its own transaction) sent per',
    'completed task, empty polls included; WAL/step: WAL bytes written during the drain per completed task;',
    'CPU/step: user + system CPU time of all the server\'s processes during the drain per completed task (/proc; - when the server is elsewhere).',
  ];
  return `${table(header, rows, 3)}\n${legend.join('\n')}`;
}

export function formatRatios(cases: CaseResult[], ceilings: Ceilings): string {
  const pgbench = pgbenchTps(ceilings);
  const loop = updateLoopTps(ceilings);
  const rows = cases.map((c) => [
    c.scenario,
    c.protocol,
    c.tables,
    `${int(c.stepsPerSecond)} = ${ratio(c.stepsPerSecond, pgbench)} pgbench -N, ${ratio(c.stepsPerSecond, loop)} UPDATE loop`,
    `${int(c.runsPerSecond)} = ${ratio(c.runsPerSecond, pgbench)} / ${ratio(c.runsPerSecond, loop)}`,
    `${int(c.startFlowPerSecond)} = ${ratio(c.startFlowPerSecond, pgbench)} / ${ratio(c.startFlowPerSecond, loop)}`,
  ]);
  return table(['scenario', 'protocol', 'tables', 'steps/s', 'runs/s (pgbench / loop)', 'start_flow/s (pgbench / loop)'], rows, 6);
}

function find(cases: CaseResult[], scenario: string, protocol: string, tables: string): CaseResult | undefined {
  return cases.find((c) => c.scenario === scenario && c.protocol === protocol && c.tables === tables);
}

export function formatSummary(report: BenchReport): string {
  const { cases, ceilings } = report;
  const pgbench = pgbenchTps(ceilings);
  const reference = pgbench ?? updateLoopTps(ceilings);
  const referenceName = pgbench ? 'pgbench -N' : 'the UPDATE loop (no pgbench)';
  const lines = ['Summary'];
  if (report.config.withoutEvents) lines.push('  NOTE: --without-events was on: a diagnostic of what events cost, not a result');
  if (report.config.quick) lines.push('  NOTE: --quick: small samples and short ceiling windows; these figures show the benchmark works, not how fast the engine is');
  const failed = cases.filter((c) => !c.ok);
  lines.push(failed.length === 0 ? `  verification: all ${cases.length} measurements completed every run and every task exactly once` : `  verification FAILED in ${failed.length} of ${cases.length} measurements`);
  for (const c of failed) lines.push(`    ${c.scenario}/${c.protocol}/${c.tables}: ${c.problems.join('; ')}`);
  if (report.citus) {
    const citusFailed = report.citus.cases.filter((c) => !c.ok);
    lines.push(
      citusFailed.length === 0
        ? `  on Citus: all ${report.citus.cases.length} measurements completed every run and every task exactly once`
        : `  on Citus: verification FAILED in ${citusFailed.length} of ${report.citus.cases.length} measurements`,
    );
    for (const c of citusFailed) lines.push(`    ${c.scenario}/${c.protocol}/citus: ${c.problems.join('; ')}`);
  }

  lines.push(`  steps/s against ${referenceName} (target >= 1.00×):`);
  for (const scenario of report.config.scenarios) {
    const parts = report.config.protocols.map((protocol) => {
      const c = find(cases, scenario, protocol, 'empty');
      return c ? `${protocol} ${ratio(c.stepsPerSecond, reference)}` : undefined;
    });
    const best = Math.max(...cases.filter((c) => c.scenario === scenario && c.tables === 'empty').map((c) => c.stepsPerSecond / reference));
    lines.push(`    ${scenario.padEnd(7)} ${parts.filter(Boolean).join(', ')}  → ${best >= 1 ? 'meets' : 'below'} the target`);
  }
  for (const theirs of report.upstream ?? []) {
    const ours = cases.filter((c) => c.scenario === theirs.scenario && c.tables === 'empty');
    const best = Math.max(...ours.map((c) => c.stepsPerSecond));
    lines.push(
      `    ${theirs.scenario.padEnd(7)} ${UPSTREAM_LABEL} per-task ${ratio(theirs.stepsPerSecond, reference)}; pgflow-orm's best is ${fixed(best / theirs.stepsPerSecond, 1)}× it`,
    );
  }

  const workerRows = cases.filter((c) => isWorkerProtocol(c.protocol) && c.tables === 'empty');
  if (workerRows.length > 0) {
    lines.push('  startWorker with no-op handlers ÷ the batched protocol driven by SQL loops (1.00 = the worker adds nothing):');
    for (const c of workerRows) {
      const sql = find(cases, c.scenario, 'batched', 'empty');
      lines.push(`    ${c.scenario.padEnd(7)} ${c.protocol.padEnd(12)} ${sql ? fixed(c.stepsPerSecond / sql.stepsPerSecond, 2) : '-'}  (${int(c.stepsPerSecond)} steps/s = ${ratio(c.stepsPerSecond, pgbench)} pgbench -N, ${ratio(c.stepsPerSecond, updateLoopTps(ceilings))} UPDATE loop)`);
    }
  }

  if (report.config.scenarios.includes('chain') && report.config.scenarios.includes('wide')) {
    lines.push('  cost per step as the flow widens (steps/s of wide ÷ chain; 1.00 = no extra cost per step):');
    for (const protocol of report.config.protocols) {
      const chain = find(cases, 'chain', protocol, 'empty');
      const wide = find(cases, 'wide', protocol, 'empty');
      if (chain && wide) lines.push(`    ${protocol.padEnd(8)} ${fixed(wide.stepsPerSecond / chain.stepsPerSecond, 2)}`);
    }
  }

  const starts = cases.filter((c) => c.tables === 'empty' && c.protocol === 'batched' && !SCENARIOS[c.scenario].mapsOverRuns);
  if (starts.length > 0 || report.batchedStart) {
    lines.push(`  starting runs against ${referenceName}:`);
    for (const c of starts) lines.push(`    ${c.scenario.padEnd(7)} start_flow, W=${c.workers}: ${int(c.startFlowPerSecond)} runs/s = ${ratio(c.startFlowPerSecond, reference)}`);
    const b = report.batchedStart;
    if (b) {
      const single = starts.find((c) => c.scenario === b.scenario);
      lines.push(
        `    ${b.scenario.padEnd(7)} start_flows, W=${b.workers}, batches of ${b.batchSize}: ${int(b.runsPerSecond)} runs/s = ${ratio(b.runsPerSecond, reference)}` +
          (single ? ` (${fixed(b.runsPerSecond / single.startFlowPerSecond, 1)}× start_flow)` : '') +
          (b.ok ? '' : ` — VERIFICATION FAILED: ${b.problems.join('; ')}`),
      );
    }
  }

  if (report.history) {
    lines.push(`  with ${int(report.history.runs)} finished runs in the tables (steps/s with history ÷ empty; 1.00 = flat):`);
    for (const c of cases.filter((k) => k.tables === 'history')) {
      const empty = find(cases, c.scenario, c.protocol, 'empty');
      if (empty) lines.push(`    ${c.scenario.padEnd(7)} ${c.protocol.padEnd(8)} ${fixed(c.stepsPerSecond / empty.stepsPerSecond, 2)}  (${int(empty.stepsPerSecond)} → ${int(c.stepsPerSecond)} steps/s)`);
    }
  }
  const pruned = cases.filter((k) => k.tables === 'history+prune' && k.prune);
  if (pruned.length > 0) {
    lines.push('  while pgflow.prune_batch deletes the history on its own connection (steps/s with the prune ÷ without; 1.00 = unchanged):');
    for (const c of pruned) {
      const without = find(cases, c.scenario, c.protocol, 'history');
      const prune = c.prune!;
      lines.push(
        `    ${c.scenario.padEnd(7)} ${c.protocol.padEnd(8)} ${without ? fixed(c.stepsPerSecond / without.stepsPerSecond, 2) : '-'}  (${without ? int(without.stepsPerSecond) : '-'} → ${int(c.stepsPerSecond)} steps/s); ` +
          `prune: ${int(prune.runs)} runs (${int(prune.tasks)} tasks) in ${fixed(prune.seconds, 2)} s = ${int(prune.runsPerSecond)} runs/s, batches of ${int(prune.batchSize)}` +
          (prune.exhausted ? ' (ran out of history before the drain ended)' : ''),
      );
    }
  }
  return lines.join('\n');
}

/** --upstream: pgflow 0.8.1 next to pgflow-orm, scenario by scenario, on the same server. */
export function formatUpstream(report: BenchReport): string {
  const pgbench = pgbenchTps(report.ceilings);
  const rows = (report.upstream ?? []).map((theirs) => {
    const ours = (protocol: string) => find(report.cases, theirs.scenario, protocol, 'empty');
    const compare = (c: CaseResult | undefined) => (c ? `${int(c.stepsPerSecond)} (${fixed(c.stepsPerSecond / theirs.stepsPerSecond, 1)}×)` : '-');
    return [
      theirs.scenario,
      `${int(theirs.stepsPerSecond)}${pgbench ? ` = ${ratio(theirs.stepsPerSecond, pgbench)} pgbench -N` : ''}${theirs.ok ? '' : ' (NOT verified)'}`,
      compare(ours('per-task')),
      compare(ours('batched')),
    ];
  });
  return (
    `Against ${UPSTREAM_LABEL} on the same server (its SQL from @pgflow/core, the built-in queue as pgmq, events with pg_notify;\n` +
    'per-task protocol with the same connections and batch; steps/s, and pgflow-orm ÷ pgflow 0.8.1)\n' +
    table(['scenario', `${UPSTREAM_LABEL} per-task`, 'pgflow-orm per-task', 'pgflow-orm batched'], rows, 4)
  );
}

/** --citus: steps/s on the cluster next to the single server of this run, scenario and protocol by protocol. */
export function formatCitus(report: BenchReport): string {
  if (!report.citus) return '';
  const rows = report.citus.cases.map((c) => {
    const single = find(report.cases, c.scenario, c.protocol, 'empty');
    return [
      c.scenario,
      c.protocol,
      single ? `${int(single.stepsPerSecond)} (R=${single.runs})` : '-',
      `${int(c.stepsPerSecond)} (R=${c.runs})${c.ok ? '' : ' (NOT verified)'}`,
      single ? fixed(c.stepsPerSecond / single.stepsPerSecond, 2) : '-',
      `${fixed(c.callsPerStep, 2)}`,
    ];
  });
  return (
    `On Citus (${report.citus.cluster}; every node on this machine), against the single server of this run\n` +
    table(['scenario', 'protocol', 'single server steps/s', 'Citus steps/s', 'Citus ÷ single', 'calls/step'], rows, 2) +
    '\nThe run-by-run path Citus takes costs round trips from the coordinator to the worker nodes and a two-phase commit per\n' +
    'transaction that touches a worker node; on one machine the nodes also share its cores. See docs/guides/scaling-out.md.'
  );
}

export function formatLatency(results: LatencyResult[]): string {
  const header = ['runs/s', 'achieved', 'runs', 'step p50 ms', 'p95', 'p99', 'max', 'run p50 ms', 'p95', 'p99', 'max', 'verified'];
  return (
    'Latency under a fixed arrival rate (3-step chain, one idle startWorker with default options, woken by LISTEN; server clock)\n' +
    table(header, latencyRows(results), 0) +
    '\nstep: a task\'s started_at − queued_at (the step became ready → a worker started it); run: completed_at − started_at.\n' +
    'Targets at light load: step p50 < 3 ms and p99 < 20 ms; run p50 < 15 ms.'
  );
}

export function formatProfile(c: CaseResult, drainSeconds: number): string {
  if (!c.profile) return '';
  const header = ['top', 'calls', 'total ms', '% drain', 'mean ms', 'statement'];
  const rows = c.profile.map((p) => [
    p.toplevel ? 'top' : 'nested',
    int(p.calls),
    int(p.totalMs),
    `${fixed((p.totalMs / (drainSeconds * 1000)) * 100, 0)}%`,
    fixed(p.meanMs, 3),
    p.query.length > 110 ? `${p.query.slice(0, 107)}...` : p.query,
  ]);
  const waits = (c.waits ?? [])
    .filter((w) => w.share >= 0.005)
    .map((w) => `${w.wait} ${fixed(w.share * 100, 0)}%`)
    .join(', ');
  return (
    `Profile of ${c.scenario}/${c.protocol}/${c.tables}\n` +
    `  worker backends sampled every 20 ms: ${waits}\n` +
    `  (CPU = executing; Client:ClientRead / idle = waiting for the worker process; Lock:* = row or object locks; IO:WAL* / LWLock:WAL* = commit flushes)\n` +
    `  pg_stat_statements (server time summed over all backends; nested statements are also counted inside their callers):\n${table(header, rows, 1)}`
  );
}

export function formatHeader(report: Pick<BenchReport, 'server' | 'facts' | 'pgflowVersion' | 'queue' | 'config'>): string {
  const { config, facts } = report;
  const settings = Object.entries(facts.settings)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  return [
    `pgflow-orm benchmark${config.quick ? ' (--quick)' : ''}`,
    `  server: ${report.server}, PostgreSQL ${facts.version}`,
    `  settings: ${settings}${config.profile ? ' + pg_stat_statements (--profile)' : ''}`,
    ...(config.withoutEvents ? ['  --without-events: the engine\'s pg_notify calls are no-ops here (a diagnostic; not comparable to the targets)'] : []),
    `  pgflow ${report.pgflowVersion}, ${report.queue}`,
    `  ${config.protocols.map((protocol) => { const { workers, batchSize, concurrency } = settingsFor(config, protocol); return isWorkerProtocol(protocol) ? `${protocol}: ${workers} × startWorker({ concurrency: ${concurrency}, batchSize: ${batchSize} })` : `${protocol}: W=${workers} connections, batch ${batchSize}`; }).join('; ')}`,
    `  R=${config.runs ?? config.scenarios.map((name) => `${SCENARIOS[name].defaultRuns} (${name})`).join(' / ')} runs per measurement, ` +
      `scenarios ${config.scenarios.join(',')}, protocols ${config.protocols.join(',')}` +
      (config.history > 0 ? `, history ${config.history} runs` : '') +
      (config.pruneDuring ? `, prune during history drains (batches of ${config.pruneBatch})` : ''),
  ].join('\n');
}

export async function writeJson(file: string, report: BenchReport): Promise<void> {
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
}
