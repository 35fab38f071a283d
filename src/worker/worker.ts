/**
 * The worker's lifecycle, wiring its parts together: startWorker starts it,
 * stop() ends it.
 *
 *   const worker = await startWorker({ connectionString, flows: [scrape], concurrency: 10 });
 *   ...
 *   await worker.stop();
 *
 * At start it checks the installed schema version, makes sure each flow's
 * definition in the database matches the code (ensureFlow), registers its
 * worker ids, LISTENs on its flows' channels, starts heartbeating and
 * claiming, and with `schedules: true` also a scheduler that fires the
 * schedules of its flows (see ../scheduler/scheduler.ts). Lost connections
 * are retried with backoff and logged; the worker never exits on its own.
 * stop() runs the shutdown: no more claims, the handlers' grace period, all
 * results stored, the worker marked stopped, its connections closed.
 *
 * The parts: ./options.ts (the options and their checks), ./connections.ts
 * (pool, LISTEN connection), ./registration.ts (pgflow.workers rows and
 * heartbeat), ./claim-loop.ts (claiming and what wakes it), ./handler.ts (one
 * handler's attempt: timeout, AbortSignal, output check),
 * ./running-handlers.ts (the running handlers: cancelled runs, shutdown) and
 * ./reporter.ts (storing results in batches).
 */
import type { ClaimedTask } from '../core/types.js';
import { withAccessHint } from '../core/access.js';
import { errorMessage, waitAtMost } from '../core/retry.js';
import { pgflowSql, type PgflowSql } from '../core/sql-api.js';
import { assertCompatibleSchema } from '../core/version.js';
import { ensureFlow } from '../flow/ensure.js';
import type { AnyFlow } from '../flow/flow.js';
import { consoleLogger, type Logger } from '../flow/logger.js';
import { startScheduler, type SchedulerHandle } from '../scheduler/scheduler.js';
import { ClaimLoop } from './claim-loop.js';
import { WorkerConnections } from './connections.js';
import { runHandler, type HandlerCallbacks } from './handler.js';
import { workerIdsFor } from './ids.js';
import { workerSettings, type WorkerOptions, type WorkerSettings } from './options.js';
import { WorkerRegistration } from './registration.js';
import { TaskReporter } from './reporter.js';
import { RunningHandlers } from './running-handlers.js';

export { StepTimeoutError } from './handler.js';
export type { WorkerOptions } from './options.js';
export { WorkerShutdownError } from './running-handlers.js';

export interface WorkerStats {
  /** Tasks claimed so far. */
  claimed: number;
  /** Attempts whose output was stored. */
  completed: number;
  /** Attempts that failed (handler error, timeout, invalid output, shutdown). */
  failed: number;
  /** Handlers aborted because their run was cancelled. */
  cancelled: number;
  /** Handlers running now. */
  running: number;
}

export interface WorkerHandle {
  /** The worker's id for each flow it serves, by flow slug. */
  readonly workerIds: Readonly<Record<string, string>>;
  /** Resolves once the worker has stopped and released its connections. */
  readonly done: Promise<void>;
  /**
   * Stops claiming, lets running handlers finish within `gracePeriod` ms,
   * then aborts their signals and waits briefly for them, stores all results,
   * marks the worker stopped and closes its connections. Calling it again
   * with a shorter grace period than the first call's (e.g. 0) ends the
   * wait at once.
   */
  stop(options?: { gracePeriod?: number }): Promise<void>;
  stats(): WorkerStats;
}

/** How long a stopping worker keeps trying to store results. */
const DRAIN_MS = 10_000;

class Worker {
  readonly workerIds: Record<string, string>;
  private readonly flows: readonly AnyFlow[];
  private readonly settings: WorkerSettings;
  private gracePeriod: number;
  private readonly logger: Logger;
  private readonly connections: WorkerConnections;
  private readonly sql: PgflowSql;
  private readonly registration: WorkerRegistration;
  private readonly running: RunningHandlers;
  private readonly claims: ClaimLoop;
  private readonly reporter: TaskReporter;
  private readonly stopping = new AbortController();
  private readonly forced = new AbortController();
  private scheduler: SchedulerHandle | undefined;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  private readonly counters = { claimed: 0, completed: 0, failed: 0, cancelled: 0 };

  constructor(private readonly options: WorkerOptions) {
    this.settings = workerSettings(options);
    this.gracePeriod = this.settings.gracePeriod;
    this.logger = options.logger ?? consoleLogger();
    this.connections = new WorkerConnections(options, this.logger, {
      onNotification: (channel, payload) => this.claims.onNotification(channel, payload),
      onConnected: () => this.claims.markAllDirty(),
    });
    this.sql = pgflowSql(this.connections.pool);

    this.flows = [...options.flows];
    const ids = workerIdsFor(this.flows.map((flow) => flow.slug), options.workerId);
    this.workerIds = Object.freeze(Object.fromEntries(ids));
    this.registration = new WorkerRegistration(this.sql, this.logger, ids, options);
    this.running = new RunningHandlers(this.logger, this.counters);
    this.claims = new ClaimLoop({
      sql: this.sql,
      logger: this.logger,
      flows: this.flows,
      workerIds: ids,
      settings: this.settings,
      running: this.running,
      stopping: this.stopping.signal,
      claimed: (flow, tasks) => this.runClaimed(flow, tasks),
      runCancelled: (event) => this.running.cancelRun(event),
    });
    this.reporter = new TaskReporter(this.sql, this.logger, {
      onCompleted: (_ref, stored) => {
        if (stored) this.counters.completed++;
      },
      onFailed: (ref, task) => {
        if (this.running.wasCancelled(ref)) return;
        this.counters.failed++;
        if (task?.status === 'queued') this.claims.wakeForRetry(ref, task.attemptsCount);
      },
    });
  }

  handle(): WorkerHandle {
    return {
      workerIds: this.workerIds,
      done: this.done,
      stop: (options) => this.stop(options),
      stats: () => ({ ...this.counters, running: this.running.size }),
    };
  }

  // ---- start ----

  async start(): Promise<void> {
    const signal = this.options.signal;
    const pool = this.connections.pool;
    try {
      await this.connections.withRetry('starting', () => withAccessHint(pool, 'worker', `run the worker of ${this.flows.map((flow) => `"${flow.slug}"`).join(', ')}`, async () => {
        if (this.options.checkSchema !== false) await assertCompatibleSchema(pool);
        if (this.options.ensureFlows !== false) {
          for (const flow of this.flows) {
            const result = await ensureFlow(pool, flow, { recreate: this.options.ensureFlows === 'recreate' });
            if (result.status !== 'unchanged') this.logger.info(`flow "${flow.slug}" ${result.status} in the database`);
          }
        }
        await this.registration.register();
      }));
    } catch (error) {
      await this.releaseConnections();
      this.resolveDone();
      throw error;
    }
    if (signal?.aborted) {
      void this.stop();
      return;
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    const listener = this.connections.listener;
    for (const flow of this.flows) void listener.listen(flow.slug).catch(() => {});
    // Claiming does not depend on LISTEN (polling covers it); give it a moment so a run started right after start-up is seen at once.
    await waitAtMost(listener.whenConnected(), 2_000, this.stopping.signal);
    this.registration.startHeartbeat(this.settings.heartbeatInterval);
    this.loop = this.claims.run();
    const schedules = this.options.schedules;
    if (schedules) {
      const settings = schedules === true ? {} : schedules;
      this.scheduler = await startScheduler({ pool, flows: [...this.flows], logger: this.logger, ...settings });
    }
    this.logger.info('worker started', {
      flows: this.flows.map((flow) => flow.slug),
      workerIds: this.workerIds,
      concurrency: this.settings.concurrency,
      batchSize: this.settings.batchSize,
    });
  }

  /** Starts a handler for each claimed task. */
  private runClaimed(flow: AnyFlow, tasks: ClaimedTask<unknown>[]): void {
    this.counters.claimed += tasks.length;
    for (const task of tasks) {
      runHandler({ flow, runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, input: task.input, attempt: task.attemptsCount }, this.logger, this.handlerCallbacks);
    }
  }

  private readonly handlerCallbacks: HandlerCallbacks = {
    started: (task) => this.running.add(task),
    finished: (task, outcome) => {
      this.running.delete(task);
      if (task.cancelled) {
        // Its run was cancelled: the engine would drop the result, and once the run is retried the same task
        // runs again as a new attempt, which a late result must not complete. So nothing is reported.
        this.logger.debug('result of a cancelled run’s handler not reported', { runId: task.ref.runId, stepSlug: task.ref.stepSlug });
        this.claims.wake();
        return;
      }
      if ('output' in outcome) this.reporter.complete(task.ref, outcome.output);
      else this.reporter.fail(task.ref, outcome.error);
      this.claims.wake();
    },
  };

  // ---- stop ----

  stop(options: { gracePeriod?: number } = {}): Promise<void> {
    if (options.gracePeriod !== undefined && options.gracePeriod < this.gracePeriod) {
      this.gracePeriod = options.gracePeriod;
      if (this.stopped) this.forced.abort();
    }
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping.abort();
    this.claims.wake();
    this.logger.info('worker stopping', { running: this.running.size, gracePeriodMs: this.gracePeriod });
    try {
      await this.scheduler?.stop();
      await this.loop;
      await this.running.end(this.gracePeriod, this.forced.signal);
      await this.reporter.drain(Date.now() + DRAIN_MS);
      this.registration.stopHeartbeat();
      this.claims.clearTimers();
      await this.registration.markStopped();
    } catch (error) {
      this.logger.error('error while stopping the worker', { error: errorMessage(error) });
    } finally {
      await this.releaseConnections();
      this.logger.info('worker stopped', { ...this.counters });
      this.resolveDone();
    }
  }

  private async releaseConnections(): Promise<void> {
    this.stopping.abort();
    await this.connections.close();
  }
}

/**
 * Starts a worker; resolves once it is registered and claiming. How it claims, stores results, times out,
 * shuts down and survives lost connections: docs/guides/workers.md.
 *
 * @example
 * ```ts
 * import { Flow, startWorker } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * const worker = await startWorker({ connectionString: process.env.DATABASE_URL, flows: [hello], concurrency: 20 });
 * // … until the process shuts down:
 * await worker.stop();
 * ```
 */
export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const worker = new Worker(options);
  await worker.start();
  return worker.handle();
}
