/**
 * The benchmark's settings: what the command line can change, the defaults,
 * and the `--quick` preset.
 */
import { InvalidArgumentError } from 'commander';
import type { EmbeddedPostgresMajor } from '../src/embedded/index.js';

export const SCENARIO_NAMES = ['chain', 'fanout', 'wide', 'map'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const PROTOCOL_NAMES = ['per-task', 'batched', 'worker', 'worker-tuned'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

/** Protocols drained by the package's own `startWorker` rather than by the benchmark's SQL loops. */
export const WORKER_PROTOCOLS: readonly ProtocolName[] = ['worker', 'worker-tuned'];

export function isWorkerProtocol(protocol: ProtocolName): boolean {
  return WORKER_PROTOCOLS.includes(protocol);
}

export interface ProtocolSettings {
  /**
   * Worker connections (W) of the SQL loops, or startWorker instances for the worker protocols
   * (each with its own pool); also the connections that call start_flow.
   */
  workers: number;
  /** Messages read (per-task) or tasks claimed (batched, worker) per call. */
  batchSize: number;
  /** startWorker's `concurrency` (handlers at once per worker); the SQL loops ignore it. */
  concurrency: number;
}

/**
 * What each protocol runs with unless --workers / --batch say otherwise: per-task the way pgflow's
 * own worker runs it (many connections, reads of 10); batched the way a worker tuned for throughput
 * runs (a connection per core, as pgbench -c 2, and batches of 100).
 */
export const PROTOCOL_DEFAULTS: Record<ProtocolName, ProtocolSettings> = {
  'per-task': { workers: 8, batchSize: 10, concurrency: 10 },
  batched: { workers: 2, batchSize: 100, concurrency: 100 },
  // startWorker with its default options: concurrency 10, batchSize = concurrency.
  worker: { workers: 1, batchSize: 10, concurrency: 10 },
  // startWorker tuned for throughput: two workers (a connection per core, as batched), each claiming 100 at a time
  // with room for two batches in flight.
  'worker-tuned': { workers: 2, batchSize: 100, concurrency: 200 },
};

export interface BenchConfig {
  /** Worker connections (W) for every protocol; null = each protocol's default. */
  workers: number | null;
  /** Runs started and drained per scenario and protocol (R); null = each scenario's default (about 10,000 tasks). */
  runs: number | null;
  /** Messages read or tasks claimed per call, for every protocol; null = each protocol's default. */
  batchSize: number | null;
  scenarios: ScenarioName[];
  protocols: ProtocolName[];
  /** Finished runs put into the tables before the second pass; 0 = no history pass. */
  history: number;
  /** Length of each ceiling measurement (UPDATE loop, pgbench), seconds. */
  ceilingSeconds: number;
  /** Measure the ceilings again after the scenarios and use the mean of both. */
  ceilingTwice: boolean;
  /** pgbench binary, or null to skip pgbench. */
  pgbench: string | null;
  pgbenchScale: number;
  pgbenchClients: number;
  /** Embedded PostgreSQL major version (ignored when DATABASE_URL is set). */
  major: EmbeddedPostgresMajor;
  /** Wait between polls of an empty queue, milliseconds. */
  idleMs: number;
  /** A scenario that has not drained after this many seconds fails the benchmark. */
  timeoutSeconds: number;
  /** Restart with pg_stat_statements and print where server time goes. */
  profile: boolean;
  /** Diagnostic: the engine's pg_notify calls replaced by no-ops in the benchmark databases. */
  withoutEvents: boolean;
  jsonFile: string | null;
  /** Keep the benchmark databases instead of dropping them (DATABASE_URL only). */
  keepDatabases: boolean;
  /** Also measure pgflow 0.8.1 itself (per-task protocol, empty tables) on the same server. */
  upstream: boolean;
  /** Also measure on the Citus cluster whose coordinator this URL names (a database per measurement); null = skip. */
  citus: string | null;
  /** Measure each history case again while pgflow.prune_batch deletes the history's runs on its own connection. */
  pruneDuring: boolean;
  /** Runs per prune_batch call for --prune-during. */
  pruneBatch: number;
  /** Runs started with pgflow.start_flows (batches of 100, W = pgbench's clients); 0 = skip. */
  batchedStarts: number;
  /** Arrival rates (runs/s) of the latency scenario; empty = skip it. */
  latencyRates: number[];
  /** How long runs arrive at each rate, seconds. */
  latencySeconds: number;
  quick: boolean;
}

export const DEFAULTS: Omit<BenchConfig, 'pgbench'> = {
  workers: null,
  runs: null,
  batchSize: null,
  scenarios: [...SCENARIO_NAMES],
  protocols: [...PROTOCOL_NAMES],
  history: 0,
  ceilingSeconds: 10,
  ceilingTwice: true,
  pgbenchScale: 10,
  pgbenchClients: 2,
  major: 17,
  idleMs: 2,
  timeoutSeconds: 600,
  profile: false,
  withoutEvents: false,
  jsonFile: null,
  keepDatabases: false,
  upstream: false,
  citus: null,
  pruneDuring: false,
  pruneBatch: 1000,
  batchedStarts: 20_000,
  latencyRates: [20, 200],
  latencySeconds: 5,
  quick: false,
};

/** The connections and batch size a protocol runs with under this configuration. */
export function settingsFor(config: BenchConfig, protocol: ProtocolName): ProtocolSettings {
  const defaults = PROTOCOL_DEFAULTS[protocol];
  const batchSize = config.batchSize ?? defaults.batchSize;
  return {
    workers: config.workers ?? defaults.workers,
    batchSize,
    concurrency: Math.max(defaults.concurrency, batchSize),
  };
}

/** Connections of the UPDATE-loop ceilings: --workers when given, else as many as pgbench's clients. */
export function ceilingWorkers(config: BenchConfig): number {
  return config.workers ?? config.pgbenchClients;
}

/** What `--quick` changes unless the option is given explicitly: well under a minute, every code path. */
export const QUICK: Partial<BenchConfig> = {
  runs: 50,
  history: 1000,
  ceilingSeconds: 2,
  ceilingTwice: false,
  pgbenchScale: 1,
  timeoutSeconds: 45,
  latencySeconds: 1,
  batchedStarts: 500,
  // Also the history cases again while pgflow.prune_batch deletes the history, so CI keeps that path working.
  pruneDuring: true,
};

/** A comma-separated list of arrival rates (runs/s); "none" (or 0) skips the latency scenario. */
export function parseRates(value: string): number[] {
  if (value.trim() === 'none' || value.trim() === '0') return [];
  return value.split(',').map((item) => {
    const rate = Number(item.trim());
    if (!Number.isFinite(rate) || rate <= 0) throw new InvalidArgumentError(`--latency-rates: expected positive runs/s or "none", got "${item}"`);
    return rate;
  });
}

/** Splits a comma-separated list and checks every item against `allowed`. */
export function parseList<T extends string>(value: string, allowed: readonly T[], what: string): T[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new InvalidArgumentError(`${what}: give at least one of ${allowed.join(', ')}`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) throw new InvalidArgumentError(`${what}: unknown "${item}" (choose from ${allowed.join(', ')})`);
  }
  return [...new Set(items)] as T[];
}

export function parseMajor(value: string): EmbeddedPostgresMajor {
  const major = Number(value);
  if (major === 14 || major === 15 || major === 16 || major === 17 || major === 18) return major;
  throw new InvalidArgumentError(`--pg: expected 14, 15, 16, 17 or 18, got "${value}"`);
}

export function parseCount(value: string, what: string, min = 1): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < min) throw new InvalidArgumentError(`${what}: expected an integer >= ${min}, got "${value}"`);
  return number;
}

export function parseSeconds(value: string, what: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) throw new InvalidArgumentError(`${what}: expected a positive number of seconds, got "${value}"`);
  return number;
}
