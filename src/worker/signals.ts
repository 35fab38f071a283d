/**
 * Process signal handling for worker processes: the first SIGTERM / SIGINT
 * stops the worker gracefully (no new work, running handlers get the grace
 * period), a second one shortens the grace period to zero; once the worker
 * has stopped the process exits.
 */
import { consoleLogger, type Logger } from '../flow/logger.js';
import { startWorker, type WorkerHandle, type WorkerOptions } from './worker.js';

export interface ShutdownSignalOptions {
  /** Default: SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
  /** Exit the process once the worker has stopped (default true; exit code 0). */
  exit?: boolean;
  logger?: Logger;
}

/**
 * Installs the signal handlers; returns a function that removes them.
 */
export function handleShutdownSignals(worker: WorkerHandle, options: ShutdownSignalOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const logger = options.logger ?? consoleLogger();
  let received = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    received++;
    if (received === 1) {
      logger.info(`${signal} received: finishing running steps, then exiting (send ${signal} again to abort them now)`);
      void worker.stop().then(() => {
        if (options.exit !== false) process.exit(0);
      });
    } else {
      logger.warn(`${signal} received again: aborting running steps`);
      void worker.stop({ gracePeriod: 0 });
    }
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/**
 * Runs a worker until SIGTERM / SIGINT (or `options.signal`) stops it:
 * startWorker + handleShutdownSignals, resolving when the worker has stopped.
 * The entry point for worker processes and the `worker` command.
 *
 * @example
 * ```ts
 * // worker.ts, run as its own process (what `npx pgflow-orm worker <module>` does)
 * import { Flow, runWorker } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * await runWorker({ connectionString: process.env.DATABASE_URL, flows: [hello], concurrency: 10 });
 * ```
 */
export async function runWorker(options: WorkerOptions & Pick<ShutdownSignalOptions, 'signals'>): Promise<void> {
  const logger = options.logger ?? consoleLogger();
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  // A signal during start-up (e.g. while the database is still unreachable) cancels the start.
  const starting = new AbortController();
  const cancelStart = (signal: NodeJS.Signals) => {
    logger.info(`${signal} received while starting: cancelling`);
    starting.abort(new Error(`${signal} received while starting`));
  };
  const forwardAbort = () => starting.abort(options.signal?.reason);
  if (options.signal?.aborted) forwardAbort();
  options.signal?.addEventListener('abort', forwardAbort, { once: true });
  for (const signal of signals) process.on(signal, cancelStart);
  let worker: WorkerHandle;
  try {
    worker = await startWorker({ ...options, logger, signal: starting.signal });
  } finally {
    for (const signal of signals) process.off(signal, cancelStart);
  }
  const dispose = handleShutdownSignals(worker, { signals, exit: false, logger });
  try {
    await worker.done;
  } finally {
    dispose();
    options.signal?.removeEventListener('abort', forwardAbort);
  }
}
