/**
 * The client object: one pool and one LISTEN connection, through which an app
 * starts runs, waits for them, reads them, operates them and follows events.
 *
 *   const client = createClient({ connectionString });
 *   const run = await client.startFlow(scrape, { url });
 *   const output = await client.waitForRun(run.runId, { timeout: 30_000 });
 *   await client.close();
 *
 * One dedicated LISTEN connection per client (./channels.ts) drives waiting
 * (./wait.ts) and event subscriptions.
 *
 * The client also operates runs and flows: cancelRun, retryRun, pauseFlow,
 * resumeFlow (see ./control.ts).
 */
import pg from 'pg';
import { toExecutor, type SqlExecutor } from '../core/connection.js';
import type { ConnectionSource } from '../core/listener.js';
import type { FlowRow, Json } from '../core/types.js';
import type { AnyFlow, FlowInput, FlowOutput } from '../flow/flow.js';
import { silentLogger, type Logger } from '../flow/logger.js';
import { ClientChannels, type EventFilter, type EventHandler, type Unsubscribe } from './channels.js';
import { cancelRun, pauseFlow, resumeFlow, retryRun } from './control.js';
import { getRun, startFlow, startFlows, type FlowRun, type RunDetails, type RunId, type StartFlowOptions, type TypedRun } from './runs.js';
import { waitForRunOutcome, type WaitOptions } from './wait.js';

export { RunWaitTimeoutError, type WaitOptions } from './wait.js';
export type { EventFilter, EventHandler, Unsubscribe } from './channels.js';

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

export class PgflowClient {
  /** Runs queries for the client (the pool it was given or created). */
  readonly db: SqlExecutor;
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly logger: Logger;
  private readonly channels: ClientChannels;
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
    this.channels = new ClientChannels({ source, logger: this.logger, pingInterval: options.pingInterval });
  }

  private readonly onPoolError = (error: Error) => {
    this.logger.warn('an idle database connection failed', { error: error.message });
  };

  /**
   * Starts a run of `flow`; the input is typed by the flow. With `{ idempotencyKey }`, a second
   * start with the same key returns the first run and creates nothing.
   *
   * @example
   * ```ts
   * const run = await client.startFlow(scrape, { url: 'https://example.com/' }, { idempotencyKey: 'scrape-example.com' });
   * console.log(run.runId, run.status); // '0193…', 'started'
   * ```
   */
  startFlow<F extends AnyFlow>(flow: F, input: FlowInput<F>, options?: StartFlowOptions): Promise<FlowRun<F>> {
    return startFlow(this.pool, flow, input, options);
  }

  /**
   * Starts one run of `flow` per input in one call and one transaction; resolves with the runs in
   * the order of their inputs. No run is started when an input is invalid.
   *
   * @example
   * ```ts
   * const runs = await client.startFlows(scrape, [{ url: 'https://a.example/' }, { url: 'https://b.example/' }]);
   * console.log(runs.length); // 2
   * ```
   */
  startFlows<F extends AnyFlow>(flow: F, inputs: readonly FlowInput<F>[]): Promise<FlowRun<F>[]> {
    return startFlows(this.pool, flow, inputs);
  }

  /**
   * Cancels a started run (its handlers running in workers are aborted). Resolves with the
   * cancelled run, or null when it had already finished (nothing to do); RunNotFoundError for an unknown run.
   *
   * @example
   * ```ts
   * const run = await client.startFlow(scrape, { url: 'https://example.com/' });
   * const cancelled = await client.cancelRun(run.runId, 'ordered by mistake');
   * if (cancelled === null) console.log('the run had already finished');
   * ```
   */
  cancelRun<TOutput = Json, TInput = Json>(runId: RunId<TOutput, TInput>, reason?: string): Promise<TypedRun<TOutput, TInput> | null> {
    return cancelRun(this.pool, runId, reason);
  }

  /**
   * Starts a failed or cancelled run again from where it stopped. Resolves with the run, `started`
   * again, or null when it was neither failed nor cancelled (nothing to do); RunNotFoundError for an unknown run.
   *
   * @example
   * ```ts
   * import { listRuns } from 'pgflow-orm';
   *
   * const [failed] = await listRuns(client.db, { flow: 'scrape', status: 'failed', limit: 1 });
   * const retried = failed ? await client.retryRun(failed.runId) : null;
   * if (retried) await client.waitForRun(retried.runId);
   * ```
   */
  retryRun<TOutput = Json, TInput = Json>(runId: RunId<TOutput, TInput>): Promise<TypedRun<TOutput, TInput> | null> {
    return retryRun(this.pool, runId);
  }

  /**
   * Pauses a flow: workers start none of its tasks until resumeFlow. Resolves with the flow (`pausedAt` set); FlowNotFoundError for an unknown flow.
   *
   * @example
   * ```ts
   * const flow = await client.pauseFlow('scrape');
   * console.log(flow.pausedAt); // a Date while paused
   * await client.resumeFlow('scrape');
   * ```
   */
  pauseFlow(flow: AnyFlow | string): Promise<FlowRow> {
    return pauseFlow(this.pool, flow);
  }

  /** Resumes a paused flow. Resolves with the flow (`pausedAt` null); FlowNotFoundError for an unknown flow. */
  resumeFlow(flow: AnyFlow | string): Promise<FlowRow> {
    return resumeFlow(this.pool, flow);
  }

  /**
   * Starts a run and waits for its output (rejects with RunFailedError when it fails).
   *
   * @example
   * ```ts
   * const output = await client.runFlow(scrape, { url: 'https://example.com/' }, { timeout: 60_000 });
   * ```
   */
  async runFlow<F extends AnyFlow>(flow: F, input: FlowInput<F>, options: StartFlowOptions & WaitOptions = {}): Promise<FlowOutput<F>> {
    const run = await this.startFlow(flow, input, options);
    return this.waitForRun(run.runId, options);
  }

  /**
   * The run with its step states and tasks, or null.
   *
   * @example
   * ```ts
   * const run = await client.startFlow(scrape, { url: 'https://example.com/' });
   * const details = await client.getRun(run.runId);
   * for (const step of details?.steps ?? []) console.log(step.stepSlug, step.status);
   * ```
   */
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
    return waitForRunOutcome<TOutput>({ pool: this.pool, channels: this.channels, logger: this.logger, isClosed: () => this.closed }, runId, options);
  }

  /**
   * Calls `handler` for each engine event (optionally only one flow's or one
   * run's) until the returned function is called. Resolves once listening, so
   * events of runs started afterwards are not missed. Events are delivered in
   * the order the engine committed them. Events sent while the connection is
   * down are lost; use getRun to catch up.
   *
   * @example
   * ```ts
   * const stop = await client.onEvent((event) => {
   *   if (event.type === 'run:failed') console.error(event.runId, event.errorMessage);
   * }, { flow: 'scrape' });
   * // later
   * await stop();
   * ```
   */
  async onEvent(handler: EventHandler, filter: EventFilter = {}): Promise<Unsubscribe> {
    if (this.closed) throw new Error('the client is closed');
    return this.channels.subscribe(handler, filter);
  }

  /** Ends pending waits (they reject), stops listening and closes the pool it created. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.channels.close(new Error('the client was closed while waiting for the run'));
    // An own pool keeps its error listener: clients it is still closing may report.
    if (this.ownsPool) await this.pool.end();
    else this.pool.off('error', this.onPoolError);
  }
}

const isPool = (value: object): value is pg.Pool =>
  value instanceof pg.Pool || (typeof (value as pg.Pool).connect === 'function' && typeof (value as pg.Pool).query === 'function' && 'totalCount' in value);

/**
 * A client on a connection string or a pg Pool.
 *
 * @example
 * ```ts
 * import { createClient } from 'pgflow-orm';
 *
 * const client = createClient(process.env.DATABASE_URL!); // or createClient({ pool }) / createClient(pool)
 * try {
 *   const run = await client.startFlow(scrape, { url: 'https://example.com/' });
 *   console.log(await client.waitForRun(run.runId, { timeout: 30_000 }));
 * } finally {
 *   await client.close();
 * }
 * ```
 */
export function createClient(options: ClientOptions | string | pg.Pool): PgflowClient {
  if (typeof options === 'string') return new PgflowClient({ connectionString: options });
  if (isPool(options)) return new PgflowClient({ pool: options });
  return new PgflowClient(options);
}

/**
 * Waits for one run with a short-lived client (one LISTEN connection for the
 * duration). Prefer a long-lived client when waiting for many runs.
 *
 * @example
 * ```ts
 * import { waitForRun } from 'pgflow-orm';
 *
 * const run = await client.startFlow(scrape, { url: 'https://example.com/' });
 * const output = await waitForRun(process.env.DATABASE_URL!, run.runId, { timeout: 30_000 });
 * ```
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
