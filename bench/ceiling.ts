/**
 * The hardware ceiling on the benchmark's own server:
 * (a) W node-postgres connections each looping a one-row UPDATE of its own row
 *     (autocommit, prepared), for a fixed time → TPS; measured a second time
 *     with a pg_notify in each transaction, because PostgreSQL serialises the
 *     commits of transactions that notify (the engine's events do);
 * (b) pgbench -N (TPC-B-like without the teller/branch updates) when a pgbench
 *     binary is available → TPS.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type pg from 'pg';
import { closeClients, openClients, runLoops, secondsSince } from './connections.js';
import { withClient } from './server.js';

export interface CeilingMeasurement {
  tps: number;
  seconds: number;
  transactions: number;
}

/** Creates bench_counter with one row per connection. */
export async function prepareUpdateLoop(url: string, connections: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('create table if not exists bench_counter (id integer primary key, n bigint not null default 0)');
    await client.query('insert into bench_counter (id) select g from generate_series(1, $1::integer) g on conflict do nothing', [connections]);
  });
}

const UPDATE = 'update bench_counter set n = n + 1 where id = $1::integer';
/** The same UPDATE, plus one pg_notify in the same transaction: the ceiling for transactions that send an event. */
const UPDATE_AND_NOTIFY = `with bumped as (update bench_counter set n = n + 1 where id = $1::integer returning n)
  select pg_notify('bench_counter', bumped.n::text) from bumped`;

export async function measureUpdateLoop(url: string, connections: number, seconds: number, options: { notify?: boolean } = {}): Promise<CeilingMeasurement> {
  const text = options.notify ? UPDATE_AND_NOTIFY : UPDATE;
  const clients = await openClients(url, connections);
  try {
    let transactions = 0;
    let stop = false;
    const began = performance.now();
    const deadline = began + seconds * 1000;
    await runLoops(
      clients,
      async (client: pg.Client, index) => {
        while (!stop && performance.now() < deadline) {
          await client.query({ name: 'bench_counter_update', text, values: [index + 1] });
          transactions++;
        }
      },
      () => {
        stop = true;
      },
    );
    const elapsed = secondsSince(began);
    return { tps: transactions / elapsed, seconds: elapsed, transactions };
  } finally {
    await closeClients(clients);
  }
}

/** The pgbench binary: an explicit path, else `pgbench` on PATH; null when there is none. */
export function findPgbench(explicit?: string): string | null {
  const candidates = explicit ? [explicit] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'pgbench'));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

function runProcess(binary: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${binary} ${args.filter((arg) => !arg.includes('://')).join(' ')} exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

export async function pgbenchVersion(binary: string): Promise<string> {
  return (await runProcess(binary, ['--version'])).trim();
}

/** pgbench -i -s <scale> (-q: quiet progress). */
export async function initPgbench(binary: string, url: string, scale: number): Promise<void> {
  await runProcess(binary, ['-i', '-q', '-s', String(scale), url]);
}

/** pgbench -N -c <clients> -j <clients> -T <seconds>; TPS as pgbench reports it. */
export async function measurePgbench(binary: string, url: string, clients: number, seconds: number): Promise<CeilingMeasurement> {
  const duration = Math.max(1, Math.round(seconds));
  const output = await runProcess(binary, ['-N', '-c', String(clients), '-j', String(clients), '-T', String(duration), url]);
  const tps = /tps = ([\d.]+)/.exec(output)?.[1];
  const processed = /number of transactions actually processed: (\d+)/.exec(output)?.[1];
  if (!tps) throw new Error(`could not read the TPS from pgbench's output:\n${output}`);
  return { tps: Number(tps), seconds: duration, transactions: Number(processed ?? 0) };
}
