/**
 * The worker: runs the step handlers of one or more flows.
 *
 *   const worker = await startWorker({ connectionString, flows: [scrape], concurrency: 10 });
 *   ...
 *   await worker.stop();
 *
 * At start it checks the installed schema version, makes sure each flow's
 * definition in the database matches the code (ensureFlow), and registers one
 * worker id per flow queue in pgflow.workers; it then heartbeats until it
 * stops, and marks itself stopped at the end.
 *
 * Work is claimed with `pgflow.claim_tasks` (read + start in one call) in
 * batches of up to `batchSize`, never more than `concurrency` handlers at a
 * time. The worker LISTENs on each flow's channel: run:started and
 * step:completed mean new tasks are queued, so an idle worker claims within
 * milliseconds and otherwise sends nothing but a poll every `pollInterval`
 * (the fallback for tasks that become visible without an event: retries after
 * their backoff, start delays, tasks of dead workers). Retries and start
 * delays of its own flows are also woken by timers at the moment they become
 * visible.
 *
 * A map step's tasks run like any other, one handler call per array
 * element: the handler's input is the element and `context.taskIndex` its
 * index. An `.array()` step's handler that returns anything but an array
 * fails its attempt (retried like any failure).
 *
 * Each handler gets an AbortSignal that fires at the step's timeout (the
 * attempt then fails with a timeout error and its slot is freed; a handler
 * that ignores the signal keeps running, but its result is discarded), when
 * its run is cancelled, and when shutdown's grace period is over. Results are
 * reported in batches (see ./reporter.ts). Lost connections are retried with
 * backoff and logged; the worker never exits on its own.
 *
 * Run control: a `run:cancelled` event on the flow's channel aborts the
 * signals of every handler of that run running here (reason:
 * RunCancelledError) at once; whatever such a handler returns or throws later
 * is reported as usual and the engine drops it (the task is no longer
 * started, so complete_tasks / fail_task return no row for it). `run:retried`
 * and `flow:resumed` mean tasks are queued again and wake the claim loop. A
 * paused flow's claims return nothing: the worker keeps polling it quietly
 * (no log line per poll) and picks its tasks up when it is resumed.
 *
 * With `schedules: true` the worker also runs a scheduler that fires the
 * schedules of its flows (see ../scheduler/scheduler.ts).
 */
import pg from 'pg';
import { NotificationListener, type ConnectionSource } from '../core/listener.js';
import { parseEvent, type RunCancelledEvent } from '../core/events.js';
import { RunCancelledError } from '../core/errors.js';
import { backoffDelay, errorMessage, isConnectionError, sleep, waitAtMost } from '../core/retry.js';
import { withAccessHint } from '../core/access.js';
import { pgflowSql, type PgflowSql } from '../core/sql-api.js';
import { assertCompatibleSchema } from '../core/version.js';
import type { StepContext } from '../flow/context.js';
import { DEFAULT_FLOW_OPTIONS, ensureFlow } from '../flow/ensure.js';
import { Flow, type AnyFlow, type StepDefinition } from '../flow/flow.js';
import { assertJsonSerialisable } from '../flow/json.js';
import { childLogger, consoleLogger, type Logger } from '../flow/logger.js';
import { startScheduler, type SchedulerHandle } from '../scheduler/scheduler.js';
import { workerIdsFor } from './ids.js';
import { TaskReporter, type TaskRef } from './reporter.js';

export interface WorkerOptions {
  /** Connect with this URL (the worker creates and closes its own pool). */
  connectionString?: string;
  /** Or use this pool; the worker holds one of its connections for LISTEN while running. */
  pool?: pg.Pool;
  /** The flows whose steps this worker runs. */
  flows: readonly AnyFlow[];
  /** Handlers running at once, across all flows (default 10). */
  concurrency?: number;
  /** Tasks claimed per call (default: concurrency). */
  batchSize?: number;
  /** Milliseconds between fallback polls (default 1000). */
  pollInterval?: number;
  /** Milliseconds between heartbeats (default 5000). */
  heartbeatInterval?: number;
  /** Milliseconds stop() lets running handlers finish before aborting their signals (default 30 000). */
  gracePeriod?: number;
  /** Stops the worker (gracefully) when aborted. */
  signal?: AbortSignal;
  /** Default: info and above to stderr. */
  logger?: Logger;
  /** A UUID; see workerIdsFor. Random ids are used when omitted. */
  workerId?: string;
  /** Recorded as pgflow.workers.function_name (default "pgflow-orm"). */
  functionName?: string;
  /**
   * Compare each flow with its definition in the database at start: create it
   * when absent and refuse to start when it differs (true, the default);
   * `'recreate'` replaces a differing definition and deletes its runs
   * (development only); false skips the check.
   */
  ensureFlows?: boolean | 'recreate';
  /** Check the installed schema version at start (default true). */
  checkSchema?: boolean;
  /**
   * Also fire the ticks of the schedules of this worker's flows (pgflow.schedules), exactly once
   * across all workers and schedulers (default false). `{ catchUp, refreshInterval }` as for
   * startScheduler: at most `catchUp` missed ticks per schedule after downtime (default 1), and the
   * schedules table is read again at least every `refreshInterval` ms (default 15 000).
   */
  schedules?: boolean | { catchUp?: number; refreshInterval?: number };
}

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

/**
 * The reason a handler's signal aborts at its step's timeout.
 *
 * @example
 * ```ts
 * import { Flow, StepTimeoutError } from 'pgflow-orm';
 *
 * export const pages = new Flow<{ url: string }>({ slug: 'pages', timeout: 10 }).step({ slug: 'fetch' }, async ({ run }, { signal }) => {
 *   try {
 *     return await (await fetch(run.url, { signal })).text();
 *   } catch (error) {
 *     if (signal.reason instanceof StepTimeoutError) throw new Error(`${run.url} took longer than 10 s`);
 *     throw error;
 *   }
 * });
 * ```
 */
export class StepTimeoutError extends Error {
  constructor(
    readonly stepSlug: string,
    readonly timeoutSeconds: number,
  ) {
    super(`step "${stepSlug}" timed out after ${timeoutSeconds} s`);
    this.name = 'StepTimeoutError';
  }
}

/**
 * The reason a handler's signal aborts when the worker shuts down.
 *
 * @example
 * ```ts
 * import { Flow, WorkerShutdownError } from 'pgflow-orm';
 *
 * export const exports_ = new Flow<{ rows: number }>({ slug: 'exports' }).step({ slug: 'write' }, async ({ run }, { signal, logger }) => {
 *   for (let row = 0; row < run.rows; row++) {
 *     if (signal.reason instanceof WorkerShutdownError) throw new Error('interrupted by a shutdown; the retry starts over');
 *     await new Promise((resolve) => setTimeout(resolve, 1));
 *   }
 *   logger.info('exported', { rows: run.rows });
 *   return run.rows;
 * });
 * ```
 */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker shut down before the step finished');
    this.name = 'WorkerShutdownError';
  }
}

interface FlowState {
  flow: AnyFlow;
  workerId: string;
  /** Tasks may be waiting: claim before sleeping. */
  dirty: boolean;
  /** Consecutive failed claims, and when to try again after the last one (epoch ms). */
  failures: number;
  retryAt: number;
  /** Steps without dependencies, and dependents by step. */
  roots: StepDefinition[];
  dependents: Map<string, StepDefinition[]>;
}

interface RunningTask {
  ref: TaskRef;
  controller: AbortController;
  /** Its run was cancelled: the engine ignores what it reports. */
  cancelled: boolean;
  settled: Promise<void>;
  /** Forget the handler: whatever it does later is ignored. */
  abandon(): void;
}

/** How long a shutting-down worker waits for handlers after aborting their signals. */
const ABORT_WAIT_MS = 2_000;
/** How long a stopping worker keeps trying to store results. */
const DRAIN_MS = 10_000;

/** The longest delay setTimeout takes; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** setTimeout for any delay: a step timeout may be up to 2^31 - 1 seconds, far beyond setTimeout's limit. */
function longTimeout(callback: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : callback()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

const positiveInteger = (value: number | undefined, name: string, fallback: number, minimum = 1): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < minimum) throw new TypeError(`startWorker: ${name} must be a whole number of at least ${minimum} (got ${value})`);
  return value;
};

class Worker {
  readonly workerIds: Record<string, string>;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly sql: PgflowSql;
  private readonly logger: Logger;
  private readonly listener: NotificationListener;
  private readonly reporter: TaskReporter;
  private readonly flows: FlowState[];
  private readonly bySlug: Map<string, FlowState>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly pollInterval: number;
  private readonly heartbeatInterval: number;
  private gracePeriod: number;
  private readonly running = new Set<RunningTask>();
  private readonly wakeTimers = new Map<number, NodeJS.Timeout>();
  private readonly stopping = new AbortController();
  private readonly forced = new AbortController();
  private wakeUp: (() => void) | undefined;
  private lastPoll = 0;
  private heartbeat: NodeJS.Timeout | undefined;
  private scheduler: SchedulerHandle | undefined;
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));
  private readonly counters = { claimed: 0, completed: 0, failed: 0, cancelled: 0 };
  /** Tasks whose run was cancelled while they ran: their late failure is not counted as one. */
  private readonly cancelledRefs = new WeakSet<TaskRef>();

  constructor(private readonly options: WorkerOptions) {
    if (!Array.isArray(options.flows) || options.flows.length === 0) throw new TypeError('startWorker: flows must list at least one flow');
    for (const flow of options.flows) if (!Flow.isFlow(flow)) throw new TypeError('startWorker: flows must contain Flow objects');
    const slugs = options.flows.map((flow) => flow.slug);
    const duplicate = slugs.find((slug, index) => slugs.indexOf(slug) !== index);
    if (duplicate) throw new TypeError(`startWorker: flow "${duplicate}" is listed more than once`);
    this.concurrency = positiveInteger(options.concurrency, 'concurrency', 10);
    this.batchSize = positiveInteger(options.batchSize, 'batchSize', this.concurrency);
    this.pollInterval = positiveInteger(options.pollInterval, 'pollInterval', 1_000);
    this.heartbeatInterval = positiveInteger(options.heartbeatInterval, 'heartbeatInterval', 5_000);
    this.gracePeriod = positiveInteger(options.gracePeriod, 'gracePeriod', 30_000, 0);
    if (typeof options.schedules === 'object' && options.schedules !== null) {
      positiveInteger(options.schedules.catchUp, 'schedules.catchUp', 1);
      positiveInteger(options.schedules.refreshInterval, 'schedules.refreshInterval', 1);
    }
    this.logger = options.logger ?? consoleLogger();

    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: 4,
        application_name: 'pgflow-orm worker',
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      this.ownsPool = true;
    } else {
      throw new TypeError('startWorker: pass connectionString or pool');
    }
    this.pool.on('error', this.onPoolError);
    this.sql = pgflowSql(this.pool);

    const ids = workerIdsFor(slugs, options.workerId);
    this.workerIds = Object.freeze(Object.fromEntries(ids));
    this.flows = options.flows.map((flow) => {
      const dependents = new Map<string, StepDefinition[]>();
      for (const step of flow.steps) for (const dep of step.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), step]);
      return { flow, workerId: ids.get(flow.slug)!, dirty: true, failures: 0, retryAt: 0, roots: flow.steps.filter((step: StepDefinition) => step.dependsOn.length === 0), dependents };
    });
    this.bySlug = new Map(this.flows.map((state) => [state.flow.slug, state]));

    this.reporter = new TaskReporter(this.sql, this.logger, {
      onCompleted: (_ref, stored) => {
        if (stored) this.counters.completed++;
      },
      onFailed: (ref, task) => {
        if (this.cancelledRefs.has(ref)) return;
        this.counters.failed++;
        if (task?.status === 'queued') this.scheduleRetryWake(ref, task.attemptsCount);
      },
    });

    const source: ConnectionSource = options.pool ? { pool: options.pool } : { connectionString: options.connectionString! };
    this.listener = new NotificationListener({
      source,
      logger: this.logger,
      applicationName: 'pgflow-orm worker (listen)',
      onNotification: (channel, payload) => this.onNotification(channel, payload),
      onConnected: () => this.markAllDirty(),
    });
  }

  private readonly onPoolError = (error: Error) => {
    this.logger.warn('an idle database connection failed', { error: error.message });
  };

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
    try {
      await this.withConnectionRetry('starting', () => withAccessHint(this.pool, 'worker', `run the worker of ${this.flows.map((state) => `"${state.flow.slug}"`).join(', ')}`, async () => {
        if (this.options.checkSchema !== false) await assertCompatibleSchema(this.pool);
        if (this.options.ensureFlows !== false) {
          for (const { flow } of this.flows) {
            const result = await ensureFlow(this.pool, flow, { recreate: this.options.ensureFlows === 'recreate' });
            if (result.status !== 'unchanged') this.logger.info(`flow "${flow.slug}" ${result.status} in the database`);
          }
        }
        const functionName = this.options.functionName ?? 'pgflow-orm';
        for (const state of this.flows) await this.sql.registerWorker(state.workerId, state.flow.slug, functionName);
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
    for (const { flow } of this.flows) void this.listener.listen(flow.slug).catch(() => {});
    // Claiming does not depend on LISTEN (polling covers it); give it a moment so a run started right after start-up is seen at once.
    await waitAtMost(this.listener.whenConnected(), 2_000, this.stopping.signal);
    this.heartbeat = setInterval(() => void this.beat(), this.heartbeatInterval);
    this.heartbeat.unref();
    this.loop = this.claimLoop();
    const schedules = this.options.schedules;
    if (schedules) {
      const settings = schedules === true ? {} : schedules;
      this.scheduler = await startScheduler({ pool: this.pool, flows: this.flows.map((state) => state.flow), logger: this.logger, ...settings });
    }
    this.logger.info('worker started', {
      flows: this.flows.map((state) => state.flow.slug),
      workerIds: this.workerIds,
      concurrency: this.concurrency,
      batchSize: this.batchSize,
    });
  }

  /** Runs `work`, retrying with backoff while the database is unreachable (until the worker stops). */
  private async withConnectionRetry(what: string, work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await work();
        return;
      } catch (error) {
        if (!isConnectionError(error) || this.options.signal?.aborted) throw error;
        const delay = backoffDelay(attempt, { initial: 200, max: 10_000 });
        this.logger.warn(`${what}: database unreachable; retrying in ${delay} ms`, { attempt: attempt + 1, error: errorMessage(error) });
        await sleep(delay, this.options.signal);
      }
    }
  }

  // ---- claiming ----

  private wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  private markAllDirty(): void {
    for (const state of this.flows) state.dirty = true;
    this.wake();
  }

  private async claimLoop(): Promise<void> {
    let next = 0;
    while (!this.stopping.signal.aborted) {
      if (Date.now() - this.lastPoll >= this.pollInterval) {
        this.lastPoll = Date.now();
        for (const state of this.flows) state.dirty = true;
      }
      for (let visited = 0; visited < this.flows.length && !this.stopping.signal.aborted; visited++) {
        const state = this.flows[(next + visited) % this.flows.length]!;
        const capacity = this.concurrency - this.running.size;
        if (capacity <= 0) break;
        if (!state.dirty || state.retryAt > Date.now()) continue;
        state.dirty = false;
        const qty = Math.min(this.batchSize, capacity);
        try {
          const claimed = await this.claim(state, qty);
          if (state.failures > 0) this.logger.info('claiming works again', { flow: state.flow.slug, afterFailures: state.failures });
          state.failures = 0;
          state.retryAt = 0;
          if (claimed === qty) state.dirty = true;
        } catch (error) {
          // This flow backs off; the others go on.
          state.dirty = true;
          const delay = backoffDelay(state.failures++, { initial: 200, max: 10_000 });
          state.retryAt = Date.now() + delay;
          const problem = isConnectionError(error) ? 'database unreachable' : 'claiming failed';
          this.logger.warn(`${problem}; retrying in ${delay} ms`, { flow: state.flow.slug, attempt: state.failures, error: errorMessage(error) });
        }
      }
      next = (next + 1) % this.flows.length;
      if (this.stopping.signal.aborted) break;
      const now = Date.now();
      const hasCapacity = this.running.size < this.concurrency;
      if (hasCapacity && this.flows.some((state) => state.dirty && state.retryAt <= now)) continue;
      let wait = this.pollInterval - (now - this.lastPoll);
      if (hasCapacity) for (const state of this.flows) if (state.dirty && state.retryAt > now) wait = Math.min(wait, state.retryAt - now);
      await this.sleepUntilWoken(Math.max(0, wait));
    }
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Claims up to `qty` tasks of the flow and starts their handlers; returns how many were claimed. */
  private async claim(state: FlowState, qty: number): Promise<number> {
    const slug = state.flow.slug;
    const records = await this.sql.claimTasks(slug, state.workerId, qty);
    if (records.length === 0) return 0;
    this.counters.claimed += records.length;
    for (const record of records) this.run(state, record.runId, record.stepSlug, record.taskIndex, record.input, record.attemptsCount);
    return records.length;
  }

  // ---- running handlers ----

  private run(state: FlowState, runId: string, stepSlug: string, taskIndex: number, input: unknown, attempt: number): void {
    const { flow } = state;
    const step = flow.getStep(stepSlug);
    const timeoutSeconds = step?.options.timeout ?? flow.options.timeout ?? DEFAULT_FLOW_OPTIONS.timeout;
    const ref: TaskRef = { flowSlug: flow.slug, runId, stepSlug, taskIndex, deadline: Date.now() + (timeoutSeconds + 2) * 1000 };
    const controller = new AbortController();
    const logger = childLogger(this.logger, step?.stepType === 'map' ? { flowSlug: flow.slug, stepSlug, taskIndex, runId, attempt } : { flowSlug: flow.slug, stepSlug, runId, attempt });
    let finished = false;
    let resolveSettled!: () => void;
    const task: RunningTask = {
      ref,
      controller,
      cancelled: false,
      settled: new Promise((resolve) => (resolveSettled = resolve)),
      abandon: () => {
        finished = true;
        timer.clear();
        resolveSettled();
      },
    };
    this.running.add(task);

    const finish = (outcome: { output: unknown } | { error: string }) => {
      if (finished) return;
      finished = true;
      timer.clear();
      this.running.delete(task);
      resolveSettled();
      if ('output' in outcome) this.reporter.complete(ref, outcome.output);
      else this.reporter.fail(ref, outcome.error);
      this.wake();
    };
    const timer = longTimeout(() => {
      const reason = new StepTimeoutError(stepSlug, timeoutSeconds);
      controller.abort(reason);
      logger.warn(`${reason.message}; the attempt fails and the handler's result will be discarded`);
      finish({ error: reason.message });
    }, timeoutSeconds * 1000);

    if (!step) {
      finish({ error: `step "${stepSlug}" is not defined in flow "${flow.slug}" of this worker (the code and the database disagree)` });
      return;
    }
    const context: StepContext = { signal: controller.signal, runId, flowSlug: flow.slug, stepSlug, taskIndex, attempt, logger };
    void (async () => {
      let output: unknown;
      try {
        output = await step.handler(input, context);
      } catch (error) {
        if (finished) return logger.debug('handler failed after its attempt had ended', { error: errorMessage(error) });
        if (task.cancelled) logger.debug('handler stopped after its run was cancelled', { error: errorMessage(error) });
        const message = errorMessage(error) || (error instanceof Error ? error.name : 'handler failed');
        logger.debug('handler failed', { error: message });
        return finish({ error: message });
      }
      if (finished) return logger.debug("handler finished after its attempt had ended; its result is discarded");
      const problem = outputProblem(step, taskIndex, output);
      if (problem) {
        logger.error(problem);
        return finish({ error: problem });
      }
      finish({ output });
    })();
  }

  private onNotification(channel: string, payload: string): void {
    const state = this.bySlug.get(channel);
    if (!state) return;
    const event = parseEvent(payload);
    if (!event) {
      state.dirty = true;
      this.wake();
      return;
    }
    if (event.type === 'run:cancelled') return this.cancelRunning(event);
    if (event.type === 'run:retried' || event.type === 'flow:resumed') {
      // Tasks were queued again (or may be claimed again).
      state.dirty = true;
      this.wake();
      return;
    }
    let steps: StepDefinition[];
    if (event.type === 'run:started') steps = state.roots;
    // A finished step (completed, or skipped while the run goes on) may have made its dependents ready.
    else if (event.type === 'step:completed' || event.type === 'step:skipped') steps = state.dependents.get(event.stepSlug) ?? [];
    else return;
    let now = false;
    for (const step of steps) {
      const delay = step.options.startDelay ?? 0;
      if (delay > 0) this.scheduleWake(state, delay * 1000 + 20);
      else now = true;
    }
    if (now) {
      state.dirty = true;
      this.wake();
    }
  }

  /** Aborts the handlers of a cancelled run; what they report later, the engine drops. */
  private cancelRunning(event: RunCancelledEvent): void {
    const tasks = [...this.running].filter((task) => task.ref.runId === event.runId && !task.cancelled);
    if (tasks.length === 0) return;
    this.logger.info(`run ${event.runId} was cancelled: aborting ${tasks.length} running handler(s)`, { flowSlug: event.flowSlug, runId: event.runId, reason: event.reason });
    const reason = new RunCancelledError(event.runId, event.flowSlug, event.reason, event.cancelledAt);
    for (const task of tasks) {
      task.cancelled = true;
      this.cancelledRefs.add(task.ref);
      this.counters.cancelled++;
      task.controller.abort(reason);
    }
  }

  /** A failed attempt will be retried after its backoff: wake up when its message becomes visible. */
  private scheduleRetryWake(ref: TaskRef, attemptsCount: number): void {
    const state = this.bySlug.get(ref.flowSlug);
    if (!state || attemptsCount < 1) return;
    const step = state.flow.getStep(ref.stepSlug);
    const baseDelay = step?.options.baseDelay ?? state.flow.options.baseDelay ?? DEFAULT_FLOW_OPTIONS.baseDelay;
    this.scheduleWake(state, Math.floor(baseDelay * 2 ** (attemptsCount - 1)) * 1000 + 20);
  }

  private scheduleWake(state: FlowState, ms: number): void {
    if (this.stopping.signal.aborted || ms > 24 * 3600 * 1000) return;
    // One timer per flow and 50 ms slot is enough.
    const slot = Math.ceil((Date.now() + ms) / 50) * this.flows.length + this.flows.indexOf(state);
    if (this.wakeTimers.has(slot)) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(slot);
      state.dirty = true;
      this.wake();
    }, ms);
    this.wakeTimers.set(slot, timer);
  }

  // ---- heartbeat ----

  private async beat(): Promise<void> {
    for (const state of this.flows) {
      try {
        await this.sql.heartbeatWorker(state.workerId);
      } catch (error) {
        if ((error as { code?: string }).code === '42704') {
          // The worker row is gone (e.g. cleaned up): register again.
          await this.sql.registerWorker(state.workerId, state.flow.slug, this.options.functionName ?? 'pgflow-orm').catch(() => {});
        } else if (!isConnectionError(error)) {
          this.logger.warn('heartbeat failed', { workerId: state.workerId, error: errorMessage(error) });
        }
      }
    }
  }

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
    this.wake();
    this.logger.info('worker stopping', { running: this.running.size, gracePeriodMs: this.gracePeriod });
    try {
      await this.scheduler?.stop();
      await this.loop;
      if (this.running.size > 0) await waitAtMost(this.allSettled(), this.gracePeriod, this.forced.signal);
      if (this.running.size > 0) {
        this.logger.warn(`grace period over: aborting ${this.running.size} running handler(s)`);
        const reason = new WorkerShutdownError();
        for (const task of this.running) task.controller.abort(reason);
        await waitAtMost(this.allSettled(), ABORT_WAIT_MS);
        for (const task of [...this.running]) {
          // Still running: its result is not waited for; the engine restarts the task after its timeout.
          task.abandon();
          this.running.delete(task);
          this.logger.warn('a handler ignored the abort; its task will run again after its timeout', { runId: task.ref.runId, stepSlug: task.ref.stepSlug });
        }
      }
      await this.reporter.drain(Date.now() + DRAIN_MS);
      clearInterval(this.heartbeat);
      for (const timer of this.wakeTimers.values()) clearTimeout(timer);
      this.wakeTimers.clear();
      for (const state of this.flows) {
        await this.sql.stopWorker(state.workerId).catch((error: unknown) => this.logger.warn('could not mark the worker stopped', { workerId: state.workerId, error: errorMessage(error) }));
      }
    } catch (error) {
      this.logger.error('error while stopping the worker', { error: errorMessage(error) });
    } finally {
      await this.releaseConnections();
      this.logger.info('worker stopped', { ...this.counters });
      this.resolveDone();
    }
  }

  private async allSettled(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running].map((task) => task.settled));
  }

  private async releaseConnections(): Promise<void> {
    this.stopping.abort();
    await this.listener.close().catch(() => {});
    // An own pool keeps its error listener: clients it is still closing may report.
    if (this.ownsPool) await this.pool.end().catch(() => {});
    else this.pool.off('error', this.onPoolError);
  }
}

/**
 * Why a handler's result cannot be stored as the task's output, or undefined
 * when it can: it must be JSON, and the handler of an `.array()` step must
 * return an array (a map over it would otherwise fail the whole run).
 */
function outputProblem(step: StepDefinition, taskIndex: number, output: unknown): string | undefined {
  const what = step.stepType === 'map' ? `the output of task ${taskIndex} of map step "${step.slug}"` : `the output of step "${step.slug}"`;
  try {
    assertJsonSerialisable(output, what);
  } catch (error) {
    return errorMessage(error);
  }
  if (step.kind === 'array' && !Array.isArray(output)) {
    const got = output === undefined ? 'nothing' : output === null ? 'null' : typeof output === 'object' ? 'an object' : `a ${typeof output}`;
    return `step "${step.slug}" is an array step: its handler must return an array, but it returned ${got}`;
  }
  return undefined;
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
