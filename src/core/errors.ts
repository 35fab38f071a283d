/**
 * The errors that say how a run ended or that it does not exist: thrown by
 * the client when it waits for or reads a run, and by the worker when a run
 * is cancelled under a running handler.
 */

/**
 * The run failed: `message` is the error of the step that failed it.
 *
 * @example
 * ```ts
 * import { createClient, RunFailedError } from 'pgflow-orm';
 *
 * const client = createClient({ connectionString: process.env.DATABASE_URL });
 * try {
 *   await client.runFlow(scrape, { url: 'https://example.com/' });
 * } catch (error) {
 *   if (error instanceof RunFailedError) console.error(`step ${error.stepSlug} failed run ${error.runId}: ${error.message}`);
 *   else throw error;
 * }
 * ```
 */
export class RunFailedError extends Error {
  readonly runId: string;
  readonly flowSlug: string;
  /** The step whose last attempt failed the run (null when unknown). */
  readonly stepSlug: string | null;
  readonly errorMessage: string;

  constructor(runId: string, flowSlug: string, stepSlug: string | null, errorMessage: string) {
    super(errorMessage);
    this.name = 'RunFailedError';
    this.runId = runId;
    this.flowSlug = flowSlug;
    this.stepSlug = stepSlug;
    this.errorMessage = errorMessage;
  }
}

/**
 * The run was cancelled (pgflow.cancel_run) before it finished; it has no output.
 *
 * @example
 * ```ts
 * import { RunCancelledError } from 'pgflow-orm';
 *
 * const run = await client.startFlow(scrape, { url: 'https://example.com/' });
 * await client.cancelRun(run.runId, 'the customer cancelled');
 * await client.waitForRun(run.runId).catch((error: unknown) => {
 *   if (error instanceof RunCancelledError) console.log(`cancelled at ${error.cancelledAt?.toISOString()}: ${error.reason}`);
 * });
 * ```
 */
export class RunCancelledError extends Error {
  readonly runId: string;
  readonly flowSlug: string;
  /** The reason given to cancel_run (null when none was). */
  readonly reason: string | null;
  readonly cancelledAt: Date | null;

  constructor(runId: string, flowSlug: string, reason: string | null, cancelledAt: Date | null) {
    super(`run ${runId} of flow "${flowSlug}" was cancelled${reason ? `: ${reason}` : ''}`);
    this.name = 'RunCancelledError';
    this.runId = runId;
    this.flowSlug = flowSlug;
    this.reason = reason;
    this.cancelledAt = cancelledAt;
  }
}

/**
 * There is no run with that id (or the role connected cannot see it).
 *
 * @example
 * ```ts
 * import { RunNotFoundError } from 'pgflow-orm';
 *
 * await client.cancelRun('0193a3b4-0000-7000-8000-000000000000').catch((error: unknown) => {
 *   if (error instanceof RunNotFoundError) console.log('no such run');
 * });
 * ```
 */
export class RunNotFoundError extends Error {
  readonly runId: string;

  constructor(runId: string) {
    super(`run ${runId} does not exist`);
    this.name = 'RunNotFoundError';
    this.runId = runId;
  }
}
