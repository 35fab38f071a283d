/**
 * One measurement: a scenario driven by one protocol in one database. Starts
 * R runs (start_flow/s), drains them with W workers (steps/s, runs/s), then
 * verifies the tables and reads latencies.
 */
import pg from 'pg';
import { isWorkerProtocol, settingsFor, type BenchConfig, type ProtocolName } from './config.js';
import { closeClients, ignoreIdleErrors, openClients, walBytesSince, walPosition } from './connections.js';
import { readProfile, resetProfile, sampleWaits, type StatementProfile, type WaitShare } from './profile.js';
import { runInput, runsFor, tasksPerMeasuredRun, type Scenario } from './scenarios.js';
import { locateServerCpu } from './server-cpu.js';
import { startRuns } from './start-runs.js';
import { verifyCase, type Latency } from './verify.js';
import { startPruneLoop, type PruneDuringResult } from './prune-during.js';
import { drainWithWorkers } from './worker-drain.js';
import { drain, registerWorkers } from './worker-loop.js';

/** `history+prune`: the history tables while pgflow.prune_batch deletes the history's runs (--prune-during). */
export type TablesState = 'empty' | 'history' | 'history+prune';

export interface CaseResult {
  scenario: Scenario['name'];
  protocol: ProtocolName;
  tables: TablesState;
  runs: number;
  tasks: number;
  workers: number;
  batchSize: number;
  /** startWorker's concurrency (worker protocols only). */
  concurrency?: number;
  startFlowPerSecond: number;
  startSeconds: number;
  drainSeconds: number;
  stepsPerSecond: number;
  runsPerSecond: number;
  /** Statements (= transactions) the workers sent per completed task, empty polls included. */
  callsPerStep: number;
  emptyPolls: number;
  walBytesPerStep: number;
  /** CPU time of all the server's processes during the drain per completed task, ms (null: server not on this machine). */
  serverCpuMsPerStep: number | null;
  latency: Latency;
  ok: boolean;
  problems: string[];
  profile?: StatementProfile[];
  /** --profile: what the worker backends were doing during the drain (share of samples). */
  waits?: WaitShare[];
  /** --prune-during: what the prune loop deleted while the workers drained. */
  prune?: PruneDuringResult;
}

/** CHECKPOINT before each measurement so that none starts in the middle of one; skipped without the privilege. */
async function tryCheckpoint(client: pg.Client): Promise<void> {
  await client.query('checkpoint').catch(() => {});
}

async function openSampler(url: string): Promise<pg.Client> {
  const client = ignoreIdleErrors(new pg.Client({ connectionString: url, application_name: 'pgflow-bench-sampler' }));
  await client.connect();
  return client;
}

export async function measureCase(url: string, scenario: Scenario, protocol: ProtocolName, tables: TablesState, config: BenchConfig): Promise<CaseResult> {
  const { workers, batchSize, concurrency } = settingsFor(config, protocol);
  const viaWorker = isWorkerProtocol(protocol);
  const clients = await openClients(url, workers);
  const control = clients[0];
  if (!control) throw new Error('at least one worker connection is needed');
  try {
    const runs = runsFor(scenario, config.runs);
    const expectedTasks = runs * tasksPerMeasuredRun(scenario, config.runs);
    await tryCheckpoint(control);
    const started = await startRuns(clients, scenario.flowSlug, runs, (n) => runInput(scenario, n, config.runs));
    // startWorker registers its own workers; the SQL loops register theirs here, as a worker does at start-up.
    const workerIds = viaWorker ? [] : await registerWorkers(clients, scenario.flowSlug);
    if (config.profile) await resetProfile(control);
    const walBefore = await walPosition(control);
    const cpu = await locateServerCpu(control);
    const cpuBefore = cpu?.readMs() ?? 0;
    let cpuMs: number | undefined;
    // Read while the workers' connections are still open: an exited backend's CPU time is no longer in /proc.
    const readCpu = async () => {
      if (cpu) cpuMs = cpu.readMs() - cpuBefore;
    };
    const drainStartedAt = (await control.query<{ now: string }>('select clock_timestamp()::text as now')).rows[0]?.now ?? '';
    const sampler = config.profile ? await openSampler(url) : undefined;
    const sampling = sampler ? sampleWaits(sampler) : undefined;
    const pruning = tables === 'history+prune' ? await startPruneLoop(url, config.pruneBatch) : undefined;
    let prune: PruneDuringResult | undefined;
    const draining = viaWorker
      ? drainWithWorkers(url, control, scenario, { workers, concurrency, batchSize, expectedTasks, timeoutSeconds: config.timeoutSeconds, beforeStop: readCpu })
      : drain(clients, workerIds, {
          flowSlug: scenario.flowSlug,
          protocol,
          batchSize,
          expectedTasks,
          idleMs: config.idleMs,
          timeoutSeconds: config.timeoutSeconds,
        });
    const drained = await draining.then(async (result) => {
      if (cpuMs === undefined) await readCpu();
      return result;
    }).finally(async () => {
      // The prune stops when the drain ends (a failed drain stops it too).
      prune = await pruning?.stop();
    });
    const waits = await sampling?.stop();
    await sampler?.end();
    const walBytes = await walBytesSince(control, walBefore);
    const profile = config.profile ? await readProfile(control) : undefined;
    const verification = await verifyCase(control, scenario, started.runIds, expectedTasks, drainStartedAt, drained);
    return {
      scenario: scenario.name,
      protocol,
      tables,
      runs,
      tasks: expectedTasks,
      workers,
      batchSize,
      ...(viaWorker ? { concurrency } : {}),
      startFlowPerSecond: started.perSecond,
      startSeconds: started.seconds,
      drainSeconds: drained.seconds,
      stepsPerSecond: drained.completed / drained.seconds,
      runsPerSecond: runs / drained.seconds,
      callsPerStep: drained.calls / Math.max(1, drained.completed),
      emptyPolls: drained.emptyPolls,
      walBytesPerStep: walBytes / Math.max(1, drained.completed),
      serverCpuMsPerStep: cpuMs === undefined ? null : cpuMs / Math.max(1, drained.completed),
      latency: verification.latency,
      ok: verification.ok,
      problems: verification.problems,
      ...(profile ? { profile } : {}),
      ...(waits ? { waits } : {}),
      ...(prune ? { prune } : {}),
    };
  } finally {
    await closeClients(clients);
  }
}
