/**
 * Waiting for a run to finish, driven by LISTEN/NOTIFY (no polling loop): a
 * waiter reads the run, LISTENs on the flow's channel, reads it again (closing
 * the gap between the two), and reads it again on each run:completed /
 * run:failed / run:cancelled event for it and after every reconnection, so a
 * notification lost while the connection was down cannot strand it.
 */
import type pg from 'pg';
import { describeValue, isUuid, PgflowArgumentError } from '../core/arguments.js';
import { RunNotFoundError } from '../core/errors.js';
import { backoffDelay, errorMessage, isConnectionError, sleep } from '../core/retry.js';
import type { Logger } from '../flow/logger.js';
import { FINISHING_EVENTS, type ClientChannels, type RunWaiter } from './channels.js';
import { readRunOutcome, type RunOutcome } from './runs.js';

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

/** What a wait needs of its client. */
export interface WaitContext {
  pool: pg.Pool;
  channels: ClientChannels;
  logger: Logger;
  isClosed(): boolean;
}

/** Resolves with the run's output once it completes; rejects as PgflowClient.waitForRun describes. */
export function waitForRunOutcome<TOutput>(context: WaitContext, runId: string, options: WaitOptions): Promise<TOutput> {
  const { pool, channels, logger } = context;
  if (context.isClosed()) return Promise.reject(new Error('the client is closed'));
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
      channels.removeWaiter(runId, waiter);
      if (channel !== undefined) channels.release(channel);
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
          outcome = await readRunOutcome(pool, runId);
          if (settleWith(outcome)) return outcome;
        } while (recheck && !settled);
        return outcome;
      } catch (error) {
        // The reconnection (or the next event) triggers another check.
        logger.warn('reading the run failed; waiting for the next event or reconnection', { runId, error: errorMessage(error) });
        return undefined;
      } finally {
        checking = false;
      }
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = timeout === undefined ? undefined : setTimeout(() => finish(() => reject(new RunWaitTimeoutError(runId, timeout))), timeout);

    channels.addWaiter(runId, waiter);

    void (async () => {
      let first: RunOutcome | null = null;
      // The first read retries while the database is unreachable (until the timeout or signal ends the wait).
      for (let attempt = 0; !settled; attempt++) {
        try {
          first = await readRunOutcome(pool, runId);
          break;
        } catch (error) {
          if (!isConnectionError(error) || context.isClosed()) {
            finish(() => reject(error));
            return;
          }
          const delay = backoffDelay(attempt);
          logger.warn(`cannot read run ${runId}: database unreachable; retrying in ${delay} ms`, { error: errorMessage(error) });
          await sleep(delay, signal);
        }
      }
      if (settled || settleWith(first)) return;
      if (!first) return;
      channel = first.flowSlug;
      try {
        await channels.acquire(channel);
      } catch (error) {
        if (!settled) finish(() => reject(error));
        return;
      }
      // Anything that finished between the first read and LISTEN is caught here.
      await check();
    })();
  });
}
