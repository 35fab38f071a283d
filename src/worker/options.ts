/**
 * startWorker's options: what each one means, and the check of the flows and
 * numbers given, with their defaults applied (a TypeError names the first
 * option that is wrong).
 */
import type pg from 'pg';
import { Flow, type AnyFlow } from '../flow/flow.js';
import type { Logger } from '../flow/logger.js';

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

/** The numeric options with their defaults applied. */
export interface WorkerSettings {
  concurrency: number;
  batchSize: number;
  pollInterval: number;
  heartbeatInterval: number;
  gracePeriod: number;
}

const positiveInteger = (value: number | undefined, name: string, fallback: number, minimum = 1): number => {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < minimum) throw new TypeError(`startWorker: ${name} must be a whole number of at least ${minimum} (got ${value})`);
  return value;
};

/** Checks the flows (at least one, each a Flow, no slug twice) and the numeric options; returns the numbers to use. */
export function workerSettings(options: WorkerOptions): WorkerSettings {
  if (!Array.isArray(options.flows) || options.flows.length === 0) throw new TypeError('startWorker: flows must list at least one flow');
  for (const flow of options.flows) if (!Flow.isFlow(flow)) throw new TypeError('startWorker: flows must contain Flow objects');
  const slugs = options.flows.map((flow) => flow.slug);
  const duplicate = slugs.find((slug, index) => slugs.indexOf(slug) !== index);
  if (duplicate) throw new TypeError(`startWorker: flow "${duplicate}" is listed more than once`);
  const concurrency = positiveInteger(options.concurrency, 'concurrency', 10);
  const settings: WorkerSettings = {
    concurrency,
    batchSize: positiveInteger(options.batchSize, 'batchSize', concurrency),
    pollInterval: positiveInteger(options.pollInterval, 'pollInterval', 1_000),
    heartbeatInterval: positiveInteger(options.heartbeatInterval, 'heartbeatInterval', 5_000),
    gracePeriod: positiveInteger(options.gracePeriod, 'gracePeriod', 30_000, 0),
  };
  if (typeof options.schedules === 'object' && options.schedules !== null) {
    positiveInteger(options.schedules.catchUp, 'schedules.catchUp', 1);
    positiveInteger(options.schedules.refreshInterval, 'schedules.refreshInterval', 1);
  }
  return settings;
}
