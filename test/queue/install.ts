/**
 * Helpers for the built-in queue's own tests. The queue is installed by the
 * package's migrations (no pgmq extension is available to the test server),
 * so a migrated test database is all a queue test needs.
 */
import { useTestDatabase, type TestDatabase } from '../support/database.js';

export function useQueueDatabase(): TestDatabase {
  return useTestDatabase();
}

/** A message as pgmq.read / pop / set_vt return it (pg parses timestamptz to Date, jsonb to JSON). */
export interface MessageRecord {
  msg_id: string;
  read_ct: number;
  enqueued_at: Date;
  vt: Date;
  message: unknown;
  headers: unknown;
}

export interface MetricsResult {
  queue_name: string;
  queue_length: string;
  newest_msg_age_sec: number | null;
  oldest_msg_age_sec: number | null;
  total_messages: string;
  scrape_time: Date;
  queue_visible_length: string;
}

/** A unique queue name per test, so tests in one file never see each other's messages. */
let counter = 0;
export function queueName(prefix = 'q'): string {
  counter += 1;
  return `${prefix}_${counter}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `run` and returns the error it throws (fails when it does not throw). */
export async function errorOf(run: () => Promise<unknown>): Promise<Error & { code?: string; detail?: string; hint?: string }> {
  try {
    await run();
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected an error, but the call succeeded');
}
