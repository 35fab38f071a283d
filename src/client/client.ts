/**
 * The client: start runs, wait for them, read them, follow events.
 *
 *   const client = createClient({ connectionString });
 *   const run = await client.startFlow(scrape, { url });
 *   const output = await client.waitForRun(run.runId, { timeout: 30_000 });
 *   await client.close();
 *
 * Waiting is driven by LISTEN/NOTIFY on one dedicated connection per client
 * (no polling loop): a waiter checks the run, LISTENs on the flow's channel,
 * checks again (closing the gap between the two), and re-reads the run on
 * each run:completed / run:failed / run:cancelled event for it — and after
 * every reconnection, so a notification lost while the connection was down
 * cannot strand it.
 *
 * The client also operates runs and flows: cancelRun, retryRun, pauseFlow,
 * resumeFlow (see ./control.ts).
 */
import pg from 'pg';
import { describeValue, isUuid, PgflowArgumentError } from '../core/arguments.js';
import { toExecutor, type SqlExecutor } from '../core/connection.js';
import type { FlowRecord, Json } from '../core/types.js';
import type { AnyFlow, FlowInput, FlowOutput } from '../flow/flow.js';
import { silentLogger, type Logger } from '../flow/logger.js';
import { cancelRun, pauseFlow, resumeFlow, retryRun } from './control.js';
import { EVENTS_CHANNEL, parseEvent, type PgflowEvent } from './events.js';
import { NotificationListener, type ConnectionSource } from './listener.js';
import { backoffDelay, errorMessage, isConnectionError, sleep } from './retry.js';
import {
  getRun,
  readRunOutcome,
  RunNotFoundError,
  startFlow,
  startFlows,
  type FlowRun,
  type RunDetails,
  type RunId,
  type RunOutcome,
  type StartFlowOptions,
  type TypedRun,
} from './runs.js';

/** The events after which a waiter reads its run again. */
const FINISHING_EVENTS: ReadonlySet<PgflowEvent['type']> = new Set(['run:completed', 'run:failed', 'run:cancelled']);

export interface ClientOptions {
  /** Connect with this URL (the client owns its pool and closes it). */
  connectionString?: string;
  /** Or use this pool; its size limits how many queries run at once, and LISTEN holds one of its connections while the client listens. */
  pool?: pg.Pool;
  /** Connection problems are logged here (silent by default). */
  logger?: Logger;
  /** Milliseconds between pings on the notification connection (default 15 000). */
  pingInterval?: number;
}

export interface WaitOptions {
  /** Reject with a RunWaitTimeoutError after this many milliseconds (default: wait as long as it takes). */
  timeout?: number;
  /** Stop waiting when this signal aborts (rejects with the signal's reason). */
  signal?: AbortSignal;
}

export class RunWaitTimeoutError extends Error {
  readonly runId: string;

  constructor(runId: string, timeout: number) {
    super(`run ${runId} did not finish within ${timeout} ms`);
    this.name = 'RunWaitTimeoutError';
    this.runId = runId;
  }
}

export interface EventFilter {
  /** Only events of this flow (listens on the flow's channel instead of pgflow_events). */
  flow?: AnyFlow | string;
  /** Only events of this run. */
  runId?: string;
}

export type EventHandler = (event: PgflowEvent) => void;

/** Stops an onEvent subscription. */
export type Unsubscribe = () => Promise<void>;

interface Subscriber {
  runId: string | undefined;
  handle: EventHandler;
}

interface RunWaiter {
  /** Re-reads the run and settles when it has finished. */
  check(): void;
  onEvent(event: PgflowEvent): void;
  /** Ends the wait with `error`. */
  cancel(error: Error): void;
}

export class PgflowClient {
  /** Runs queries for the client (the pool it was given or created). */
  readonly db: SqlExecutor;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly logger: Logger;
  private readonly listener: NotificationListener;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly waiters = new Map<string, Set<RunWaiter>>();
  private closed = false;

  constructor(options: ClientOptions) {
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new pg.Pool({ connectionString: options.connectionString, max: 4, application_name: 'pgflow-orm client' });
      this.ownsPool = true;
    } else {
      throw new TypeError('createClient: pass { connectionString } or { pool }');
    }
    // Idle pool connections dropped by the server must not crash the process.
    this.pool.on('error', this.onPoolError);
    this.db = toExecutor(this.pool);
    this.logger = options.logger ?? silentLogger;
    const source: ConnectionSource = options.pool ? { pool: options.pool } : { connectionString: options.connectionString as string };
    this.listener = new NotificationListener({
      source,
      logger: this.logger,
      pingInterval: options.pingInterval,
      applicationName: 'pgflow-orm client (listen)',
      onNotification: (channel, payload) => this.dispatch(channel, payload),
      onConnected: ({ reconnected }) => {
        if (reconnected) for (const set of this.waiters.values()) for (const waiter of set) waiter.check();
      },
    });
  }

  private readonly onPoolError = (error: Error) => {
    this.logger.warn('an idle database connection failed', { error: error.message });
  };

  /**
   * Starts a run of `flow`; the input is typed by the flow. With `{ idempotencyKey }`, a second
   * start with the same key returns the first run and creates nothing.
   */
  startFlow<F extends AnyFlow>(flow: F, input: FlowInput<F>, options?: StartFlowOptions): Promise<FlowRun<F>> {
    return startFlow(this.pool, flow, input, options);
  }

  /**
   * Starts one run of `flow` per input in one call and one transaction; resolves with the runs in
   * the order of their inputs. No run is started when an input is invalid.
   */
  startFlows<F extends AnyFlow>(flow: F, inputs: readonly FlowInput<F>[]): Promise<FlowRun<F>[]> {
    return startFlows(this.pool, flow, inputs);
  }

  /**
   * Cancels a started run (its handlers running in workers are aborted). Resolves with the
   * cancelled run, or null when it had already finished (nothing to do); RunNotFoundError for an unknown run.
   */
  cancelRun<TOutput = Json, TInput = Json>(runId: RunId<TOutput, TInput>, reason?: string): Promise<TypedRun<TOutput, TInput> | null> {
    return cancelRun(this.pool, runId, reason);
  }

  /**
   * Starts a failed or cancelled run again from where it stopped. Resolves with the run, `started`
   * again, or null when it was neither failed nor cancelled (nothing to do); RunNotFoundError for an unknown run.
   */
  retryRun<TOutput = Json, TInput = Json>(runId: RunId<TOutput, TInput>): Promise<TypedRun<TOutput, TInput> | null> {
    return retryRun(this.pool, runId);
  }

  /** Pauses a flow: workers start none of its tasks until resumeFlow. Resolves with the flow (`pausedAt` set); FlowNotFoundError for an unknown flow. */
  pauseFlow(flow: AnyFlow | string): Promise<FlowRecord> {
    return pauseFlow(this.pool, flow);
  }

  /** Resumes a paused flow. Resolves with the flow (`pausedAt` null); FlowNotFoundError for an unknown flow. */
  resumeFlow(flow: AnyFlow | string): Promise<FlowRecord> {
    return resumeFlow(this.pool, flow);
  }

  /** Starts a run and waits for its output (rejects with RunFailedError when it fails). */
  async runFlow<F extends AnyFlow>(flow: F, input: FlowInput<F>, options: StartFlowOptions & WaitOptions = {}): Promise<FlowOutput<F>> {
    const run = await this.startFlow(flow, input, options);
    return this.waitForRun(run.runId, options);
  }

  /** The run with its step states and tasks, or null. */
  getRun<TOutput = Json, TInput = Json>(runId: RunId<TOutput, TInput>): Promise<RunDetails<TOutput, TInput> | null> {
    return getRun(this.pool, runId);
  }

  /**
   * Resolves with the run's output once it completes; rejects with a
   * RunFailedError (the failing step's error message) when it fails, a
   * RunCancelledError (with the reason) when it is cancelled, a
   * RunNotFoundError for an unknown id, a RunWaitTimeoutError after
   * `timeout` ms, or the signal's reason when `signal` aborts.
   */
  waitForRun<TOutput = Json>(runId: RunId<TOutput, any>, options: WaitOptions = {}): Promise<TOutput> {
    if (this.closed) return Promise.reject(new Error('the client is closed'));
    if (!isUuid(runId)) return Promise.reject(new PgflowArgumentError(`waitForRun: runId must be a UUID, got ${describeValue(runId)}`, 'runId', runId));
    const { timeout, signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<TOutput>((resolve, reject) => {
      let settled = false;
      let channel: string | undefined;
      let checking = false;
      let recheck = false;
      const waiter: RunWaiter = {
        check: () => void check(),
        onEvent: (event) => {
          if (event.runId === runId && FINISHING_EVENTS.has(event.type)) waiter.check();
        },
        cancel: (error) => finish(() => reject(error)),
      };
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.waiters.get(runId);
        set?.delete(waiter);
        if (set?.size === 0) this.waiters.delete(runId);
        if (channel !== undefined) this.release(channel);
        settle();
      };
      const settleWith = (outcome: RunOutcome | null): boolean => {
        if (!outcome) {
          finish(() => reject(new RunNotFoundError(runId)));
          return true;
        }
        if (outcome.status === 'completed') {
          finish(() => resolve(outcome.output as TOutput));
          return true;
        }
        if (outcome.status === 'failed' || outcome.status === 'cancelled') {
          finish(() => reject(outcome.error));
          return true;
        }
        return false;
      };
      // One read at a time; a request during a read runs another read after it.
      const check = async (): Promise<RunOutcome | null | undefined> => {
        if (settled) return undefined;
        if (checking) {
          recheck = true;
          return undefined;
        }
        checking = true;
        try {
          let outcome: RunOutcome | null | undefined;
          do {
            recheck = false;
            outcome = await readRunOutcome(this.pool, runId);
            if (settleWith(outcome)) return outcome;
          } while (recheck && !settled);
          return outcome;
        } catch (error) {
          // The reconnection (or the next event) triggers another check.
          this.logger.warn('reading the run failed; waiting for the next event or reconnection', { runId, error: errorMessage(error) });
          return undefined;
        } finally {
          checking = false;
        }
      };
      const onAbort = () => finish(() => reject(signal?.reason));
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = timeout === undefined ? undefined : setTimeout(() => finish(() => reject(new RunWaitTimeoutError(runId, timeout))), timeout);

      let set = this.waiters.get(runId);
      if (!set) this.waiters.set(runId, (set = new Set()));
      set.add(waiter);

      void (async () => {
        let first: RunOutcome | null = null;
        // The first read retries while the database is unreachable (until the timeout or signal ends the wait).
        for (let attempt = 0; !settled; attempt++) {
          try {
            first = await readRunOutcome(this.pool, runId);
            break;
          } catch (error) {
            if (!isConnectionError(error) || this.closed) {
              finish(() => reject(error));
              return;
            }
            const delay = backoffDelay(attempt);
            this.logger.warn(`cannot read run ${runId}: database unreachable; retrying in ${delay} ms`, { error: errorMessage(error) });
            await sleep(delay, signal);
          }
        }
        if (settled || settleWith(first)) return;
        if (!first) return;
        channel = first.flowSlug;
        try {
          await this.acquire(channel);
        } catch (error) {
          if (!settled) finish(() => reject(error));
          return;
        }
        // Anything that finished between the first read and LISTEN is caught here.
        await check();
      })();
    });
  }

  /**
   * Calls `handler` for each engine event (optionally only one flow's or one
   * run's) until the returned function is called. Resolves once listening, so
   * events of runs started afterwards are not missed. Events are delivered in
   * the order the engine committed them. Events sent while the connection is
   * down are lost; use getRun to catch up.
   */
  async onEvent(handler: EventHandler, filter: EventFilter = {}): Promise<Unsubscribe> {
    if (this.closed) throw new Error('the client is closed');
    const channel = filter.flow === undefined ? EVENTS_CHANNEL : typeof filter.flow === 'string' ? filter.flow : filter.flow.slug;
    const subscriber: Subscriber = { runId: filter.runId, handle: handler };
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(subscriber);
    await this.acquire(channel);
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      this.subscribers.get(channel)?.delete(subscriber);
      this.release(channel);
    };
  }

  /** Ends pending waits (they reject), stops listening and closes the pool it created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.cancel(new Error('the client was closed while waiting for the run'));
    await this.listener.close();
    // An own pool keeps its error listener: clients it is still closing may report.
    if (this.ownsPool) await this.pool.end();
    else this.pool.off('error', this.onPoolError);
  }

  private readonly channelUsers = new Map<string, number>();

  private async acquire(channel: string): Promise<void> {
    this.channelUsers.set(channel, (this.channelUsers.get(channel) ?? 0) + 1);
    await this.listener.start();
    await this.listener.listen(channel);
  }

  /**
   * Flow channels stay listened to for the client's lifetime (a LISTEN per
   * waited run would cost two round trips each); `pgflow_events`, which
   * carries every flow's events, only while someone subscribes to it.
   */
  private release(channel: string): void {
    const users = (this.channelUsers.get(channel) ?? 1) - 1;
    if (users > 0) {
      this.channelUsers.set(channel, users);
      return;
    }
    this.channelUsers.delete(channel);
    if (channel === EVENTS_CHANNEL) void this.listener.unlisten(channel);
  }

  private dispatch(channel: string, payload: string): void {
    const event = parseEvent(payload);
    if (!event) return;
    for (const subscriber of this.subscribers.get(channel) ?? []) {
      if (subscriber.runId !== undefined && subscriber.runId !== event.runId) continue;
      try {
        subscriber.handle(event);
      } catch (error) {
        this.logger.error('an event handler threw', { event: event.type, error: errorMessage(error) });
      }
    }
    if (event.runId !== undefined && FINISHING_EVENTS.has(event.type)) {
      for (const waiter of this.waiters.get(event.runId) ?? []) waiter.onEvent(event);
    }
  }
}

const isPool = (value: object): value is pg.Pool =>
  value instanceof pg.Pool || (typeof (value as pg.Pool).connect === 'function' && typeof (value as pg.Pool).query === 'function' && 'totalCount' in value);

/** A client on a connection string or a pg Pool. */
export function createClient(options: ClientOptions | string | pg.Pool): PgflowClient {
  if (typeof options === 'string') return new PgflowClient({ connectionString: options });
  if (isPool(options)) return new PgflowClient({ pool: options });
  return new PgflowClient(options);
}

/**
 * Waits for one run with a short-lived client (one LISTEN connection for the
 * duration). Prefer a long-lived client when waiting for many runs.
 */
export async function waitForRun<TOutput = Json>(
  source: ClientOptions | string | pg.Pool,
  runId: RunId<TOutput, any>,
  options: WaitOptions = {},
): Promise<TOutput> {
  const client = createClient(source);
  try {
    return await client.waitForRun(runId, options);
  } finally {
    await client.close();
  }
}
