/**
 * The scheduler: fires the ticks of the schedules in pgflow.schedules.
 *
 *   const scheduler = await startScheduler({ connectionString, catchUp: 3 });
 *   ...
 *   await scheduler.stop();
 *
 * Each pass reads the schedules with the last tick fired for each (from
 * pgflow.schedule_ticks) and the database's clock, works out which ticks are
 * due and calls `pgflow.fire_schedule` for each, oldest first. fire_schedule
 * records the tick and starts its run in one transaction and returns NULL
 * when the tick has already fired, so any number of schedulers — in worker
 * processes or `pgflow-orm scheduler` — fire each tick exactly once between
 * them. A pass runs at each schedule's next tick and at least every
 * `refreshInterval` ms, which is how new, changed and removed schedules are
 * noticed without a restart (schedule_flow sends no event to LISTEN for).
 *
 * Due ticks: those after the schedule's last fired tick (or after it was
 * created or last changed, when that is later) up to now. After downtime only
 * the latest `catchUp` of them fire (default 1: the latest missed tick, once);
 * the older ones are skipped and logged. A schedule whose expression or time
 * zone cannot be read is logged as an error once (until it changes) and
 * skipped; the others go on. Lost connections are retried with backoff.
 */
import pg from 'pg';
import { backoffDelay, errorMessage, isConnectionError, sleep } from '../core/retry.js';
import { toExecutor, type SqlExecutor } from '../core/connection.js';
import { pgflowSql, type PgflowSql } from '../core/sql-api.js';
import type { AnyFlow } from '../flow/flow.js';
import { consoleLogger, type Logger } from '../flow/logger.js';
import { CronError, CronSchedule } from './cron.js';
import { readSchedules, type ScheduleState } from './schedules.js';

export interface SchedulerOptions {
  /** Connect with this URL (the scheduler creates and closes its own small pool). */
  connectionString?: string;
  /** Or use this pool. */
  pool?: pg.Pool;
  /** Only the schedules of these flows (default: every schedule in the database). */
  flows?: readonly (AnyFlow | string)[];
  /** After downtime, fire at most this many of each schedule's latest missed ticks (default 1). */
  catchUp?: number;
  /** Milliseconds between reads of pgflow.schedules when no tick is due sooner (default 15 000). */
  refreshInterval?: number;
  /** Stops the scheduler when aborted. */
  signal?: AbortSignal;
  /** Default: info and above to stderr. */
  logger?: Logger;
  /** The clock that decides which ticks are due (default: the database's, read with the schedules). */
  now?: () => Date;
}

/** A schedule the scheduler skips, and why. */
export interface ScheduleProblem {
  flowSlug: string;
  scheduleName: string;
  cron: string;
  timezone: string;
  problem: string;
}

/** A tick this scheduler fired. */
export interface FiredTick {
  flowSlug: string;
  scheduleName: string;
  tick: Date;
  runId: string;
}

export interface SchedulerStats {
  /** Schedules read in the last pass (readable or not). */
  schedules: number;
  /** Ticks this scheduler fired. */
  fired: number;
  /** Due ticks another scheduler had fired first. */
  firedElsewhere: number;
  /** Missed ticks left out by the catch-up limit. */
  skipped: number;
  /** Schedules skipped because they cannot be read. */
  problems: ScheduleProblem[];
}

export interface SchedulerHandle {
  /** Resolves once the scheduler has stopped and released its connections. */
  readonly done: Promise<void>;
  /** Stops after the pass in progress, if any. */
  stop(): Promise<void>;
  /** Runs a pass now (after the one in progress) and resolves with the ticks it fired; rejects once the scheduler is stopped. */
  fireDue(): Promise<FiredTick[]>;
  stats(): SchedulerStats;
}

interface PassResult {
  fired: FiredTick[];
  /** The clock the pass judged by. */
  now: Date;
  /** The earliest tick after `now` of any readable schedule. */
  nextTick: Date | null;
}

const DEFAULT_REFRESH_MS = 15_000;
/** Wake a little after a tick, so the database's clock has passed it. */
const TICK_MARGIN_MS = 5;

const positiveInteger = (value: number | undefined, name: string, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`startScheduler: ${name} must be a whole number of at least 1 (got ${value})`);
  return value;
};

const label = (row: { flowSlug: string; scheduleName: string }) => `schedule "${row.scheduleName}" of flow "${row.flowSlug}"`;

class Scheduler {
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly db: SqlExecutor;
  private readonly sql: PgflowSql;
  private readonly logger: Logger;
  private readonly flows: string[] | null;
  private readonly catchUp: number;
  private readonly refreshInterval: number;
  private readonly stopping = new AbortController();
  /** Parsed expressions by schedule, kept while the expression and time zone stay the same. */
  private readonly parsed = new Map<string, { cron: string; timezone: string; result: CronSchedule | ScheduleProblem }>();
  private readonly counters = { schedules: 0, fired: 0, firedElsewhere: 0, skipped: 0 };
  private passing: Promise<unknown> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve));

  constructor(private readonly options: SchedulerOptions) {
    this.catchUp = positiveInteger(options.catchUp, 'catchUp', 1);
    this.refreshInterval = positiveInteger(options.refreshInterval, 'refreshInterval', DEFAULT_REFRESH_MS);
    this.flows = options.flows === undefined ? null : options.flows.map((flow) => (typeof flow === 'string' ? flow : flow.slug));
    this.logger = options.logger ?? consoleLogger();
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new pg.Pool({ connectionString: options.connectionString, max: 2, application_name: 'pgflow-orm scheduler', connectionTimeoutMillis: 10_000 });
      this.ownsPool = true;
    } else {
      throw new TypeError('startScheduler: pass connectionString or pool');
    }
    this.pool.on('error', this.onPoolError);
    this.db = toExecutor(this.pool);
    this.sql = pgflowSql(this.pool);
  }

  private readonly onPoolError = (error: Error) => {
    this.logger.warn('an idle database connection failed', { error: error.message });
  };

  handle(): SchedulerHandle {
    return {
      done: this.done,
      stop: () => this.stop(),
      fireDue: () => (this.stopping.signal.aborted ? Promise.reject(new Error('the scheduler is stopped')) : this.serialised().then((result) => result.fired)),
      stats: () => ({ ...this.counters, problems: this.problems() }),
    };
  }

  /** Starts the loop; resolves once its first pass has run (or failed, which is logged and retried). */
  async start(): Promise<void> {
    const signal = this.options.signal;
    if (signal?.aborted) {
      void this.stop();
      return;
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.logger.info('scheduler started', { flows: this.flows ?? 'all', catchUp: this.catchUp, refreshIntervalMs: this.refreshInterval });
    let firstPass!: () => void;
    const ready = new Promise<void>((resolve) => (firstPass = resolve));
    this.loop = this.run(firstPass);
    await ready;
  }

  private problems(): ScheduleProblem[] {
    return [...this.parsed.values()].map((entry) => entry.result).filter((result): result is ScheduleProblem => !(result instanceof CronSchedule));
  }

  /** One pass at a time: a pass asked for during another runs after it. */
  private serialised(): Promise<PassResult> {
    const pass = this.passing.then(() => this.pass());
    this.passing = pass.catch(() => {});
    return pass;
  }

  private async run(firstPass: () => void): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let wait = this.refreshInterval;
      try {
        const { now, nextTick } = await this.serialised();
        if (failures > 0) this.logger.info('the scheduler reaches the database again', { afterFailures: failures });
        failures = 0;
        if (nextTick) wait = Math.min(wait, Math.max(0, nextTick.getTime() - now.getTime()) + TICK_MARGIN_MS);
      } catch (error) {
        wait = backoffDelay(failures++, { initial: 200, max: 10_000 });
        const problem = isConnectionError(error) ? 'database unreachable' : 'reading or firing schedules failed';
        this.logger.warn(`${problem}; retrying in ${wait} ms`, { attempt: failures, error: errorMessage(error) });
      }
      firstPass();
      await sleep(wait, this.stopping.signal);
    }
    firstPass();
  }

  private async pass(): Promise<PassResult> {
    const snapshot = await readSchedules(this.db, this.flows);
    const now = this.options.now?.() ?? snapshot.now;
    const fired: FiredTick[] = [];
    let nextTick: Date | null = null;
    const seen = new Set<string>();
    for (const row of snapshot.schedules) {
      const key = `${row.flowSlug}\u0000${row.scheduleName}`;
      seen.add(key);
      const schedule = this.read(key, row);
      if (!schedule) continue;
      await this.fireRow(row, schedule, now, fired);
      const next = schedule.next(now);
      if (next && (nextTick === null || next < nextTick)) nextTick = next;
    }
    for (const key of this.parsed.keys()) if (!seen.has(key)) this.parsed.delete(key);
    this.counters.schedules = snapshot.schedules.length;
    return { fired, now, nextTick };
  }

  /** The schedule's expression, read (and cached); null, logged once, when it cannot be read. */
  private read(key: string, row: ScheduleState): CronSchedule | null {
    const cached = this.parsed.get(key);
    if (cached && cached.cron === row.cron && cached.timezone === row.timezone) return cached.result instanceof CronSchedule ? cached.result : null;
    let result: CronSchedule | ScheduleProblem;
    try {
      result = CronSchedule.parse(row.cron, row.timezone);
      if (cached && !(cached.result instanceof CronSchedule)) this.logger.info(`${label(row)} can be read again: ${row.cron} (${row.timezone})`);
      if (result.neverFires) this.logger.warn(`${label(row)} never fires: no date matches ${JSON.stringify(row.cron)}`);
    } catch (error) {
      if (!(error instanceof CronError)) throw error;
      result = { flowSlug: row.flowSlug, scheduleName: row.scheduleName, cron: row.cron, timezone: row.timezone, problem: error.message };
      this.logger.error(`${label(row)} cannot be read and is skipped until it is fixed: ${error.message}`, { cron: row.cron, timezone: row.timezone });
    }
    this.parsed.set(key, { cron: row.cron, timezone: row.timezone, result });
    return result instanceof CronSchedule ? result : null;
  }

  /** Fires the schedule's due ticks, oldest first, at most `catchUp` of them. */
  private async fireRow(row: ScheduleState, schedule: CronSchedule, now: Date, fired: FiredTick[]): Promise<void> {
    const after = row.lastTick === null || row.updatedAt > row.lastTick ? row.updatedAt : row.lastTick;
    const { ticks, more } = schedule.latestTicks(after, now, this.catchUp);
    if (more) {
      this.counters.skipped++;
      this.logger.info(`${label(row)} missed more than ${this.catchUp} tick(s) since ${after.toISOString()}; firing the latest ${this.catchUp}, skipping the older ones`);
    }
    for (const tick of ticks) {
      let runId: string | null;
      try {
        runId = await this.sql.fireSchedule(row.flowSlug, row.scheduleName, tick);
      } catch (error) {
        // Removed since it was read: nothing to fire.
        if ((error as { code?: string }).code === '42704') return;
        if (isConnectionError(error)) throw error;
        this.logger.error(`firing ${label(row)} at ${tick.toISOString()} failed; trying again in the next pass`, { error: errorMessage(error) });
        return;
      }
      if (runId === null) {
        this.counters.firedElsewhere++;
        this.logger.debug(`${label(row)}: tick ${tick.toISOString()} had already fired`);
        continue;
      }
      this.counters.fired++;
      fired.push({ flowSlug: row.flowSlug, scheduleName: row.scheduleName, tick, runId });
      this.logger.info(`${label(row)} fired for ${tick.toISOString()}: run ${runId}`, { flowSlug: row.flowSlug, scheduleName: row.scheduleName, runId });
    }
  }

  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping.abort();
    try {
      await this.loop;
      await this.passing;
    } finally {
      this.pool.off('error', this.onPoolError);
      if (this.ownsPool) {
        this.pool.on('error', () => {});
        await this.pool.end().catch(() => {});
      }
      this.logger.info('scheduler stopped', { fired: this.counters.fired });
      this.resolveDone();
    }
  }
}

/**
 * Starts firing the ticks of the schedules in the database (or of `flows`)
 * until stopped; see the module comment. Resolves once the first pass has
 * run; a database that cannot be reached is logged and retried, not thrown.
 *
 * @example
 * ```ts
 * import { pgflowSql, startScheduler } from 'pgflow-orm';
 *
 * await pgflowSql(pool).scheduleFlow('reports', 'nightly', '0 2 * * *', { kind: 'daily' }, 'Europe/Paris');
 * const scheduler = await startScheduler({ pool, catchUp: 1 });
 * console.log(scheduler.stats().fired);
 * await scheduler.stop();
 * ```
 */
export async function startScheduler(options: SchedulerOptions): Promise<SchedulerHandle> {
  const scheduler = new Scheduler(options);
  await scheduler.start();
  return scheduler.handle();
}
