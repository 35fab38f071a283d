/** What a step handler receives besides its input. */
import type { Logger } from './logger.js';

export interface StepContext {
  /**
   * Aborts when the step's timeout elapses (reason: StepTimeoutError; the
   * attempt has then failed and whatever the handler returns later is
   * discarded), when its run is cancelled (reason: RunCancelledError; the
   * engine has already cancelled the task, so whatever the handler returns
   * later is dropped), or when the worker is shutting down and its grace
   * period is over (reason: WorkerShutdownError). Pass it to `fetch`,
   * database drivers and timers.
   */
  signal: AbortSignal;
  runId: string;
  flowSlug: string;
  stepSlug: string;
  /** Index of the task within its step (always 0 for single steps). */
  taskIndex: number;
  /** 1 for the first attempt, 2 for the first retry, ... (0 if it could not be read when the task was claimed). */
  attempt: number;
  /** The worker's logger with runId, flowSlug, stepSlug and attempt attached. */
  logger: Logger;
}
