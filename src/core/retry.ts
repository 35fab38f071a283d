/** Small helpers for waiting and retrying with backoff. */

export interface BackoffOptions {
  /** First delay in ms. */
  initial?: number;
  /** Largest delay in ms. */
  max?: number;
}

/** Exponential backoff with ±20% jitter: initial, 2×, 4×, ... capped at max. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const initial = options.initial ?? 100;
  const max = options.max ?? 5_000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for `promise`, but at most `ms` milliseconds (less if `signal`
 * aborts); resolves true when the promise settled in time. Leaves no timer
 * behind, so it never keeps a process alive.
 */
export async function waitAtMost(promise: Promise<unknown>, ms: number, signal?: AbortSignal): Promise<boolean> {
  const done = new AbortController();
  const onAbort = () => done.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([promise.then(() => true, () => true), sleep(ms, done.signal).then(() => false)]);
  } finally {
    done.abort();
    signal?.removeEventListener('abort', onAbort);
  }
}

/** SQLSTATE classes and driver error codes that mean "the connection or server went away". */
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08004', '08006', '08007', '3D000']);
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/** True for errors caused by a lost or refused database connection (worth retrying), not by the statement. */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (CONNECTION_SQLSTATES.has(code) || CONNECTION_ERRNOS.has(code) || code.startsWith('08'))) return true;
  const message = error instanceof Error ? error.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|not queryable|not currently accepting connections|the database system is (starting up|shutting down)/i.test(
    message,
  );
}

export const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error) ?? String(error));
