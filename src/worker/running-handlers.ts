/**
 * The handlers running in this worker: how many there are (the claim loop's
 * capacity), aborting those of a cancelled run, and ending them at shutdown.
 *
 * A `run:cancelled` event aborts the signals of every handler of that run
 * running here at once (reason: RunCancelledError); whatever such a handler
 * returns or throws later is reported as usual and the engine drops it (the
 * task is no longer started, so complete_tasks / fail_task return no row for
 * it). At shutdown the handlers get the grace period to finish, then their
 * signals abort (reason: WorkerShutdownError), and a handler that still runs
 * shortly after is abandoned: the engine restarts its task after its timeout.
 */
import type { RunCancelledEvent } from '../core/events.js';
import { RunCancelledError } from '../core/errors.js';
import { waitAtMost } from '../core/retry.js';
import type { Logger } from '../flow/logger.js';
import type { RunningTask } from './handler.js';
import type { TaskRef } from './reporter.js';

/**
 * The reason a handler's signal aborts when the worker shuts down.
 *
 * @example
 * ```ts
 * import { Flow, WorkerShutdownError } from 'pgflow-orm';
 *
 * export const exports_ = new Flow<{ rows: number }>({ slug: 'exports' }).step({ slug: 'write' }, async ({ run }, { signal, logger }) => {
 *   for (let row = 0; row < run.rows; row++) {
 *     if (signal.reason instanceof WorkerShutdownError) throw new Error('interrupted by a shutdown; the retry starts over');
 *     await new Promise((resolve) => setTimeout(resolve, 1));
 *   }
 *   logger.info('exported', { rows: run.rows });
 *   return run.rows;
 * });
 * ```
 */
export class WorkerShutdownError extends Error {
  constructor() {
    super('the worker shut down before the step finished');
    this.name = 'WorkerShutdownError';
  }
}

/** How long a shutting-down worker waits for handlers after aborting their signals. */
const ABORT_WAIT_MS = 2_000;

export class RunningHandlers {
  private readonly tasks = new Set<RunningTask>();
  /** Tasks whose run was cancelled while they ran: their late failure is not counted as one. */
  private readonly cancelledRefs = new WeakSet<TaskRef>();

  constructor(
    private readonly logger: Logger,
    /** The worker's count of handlers aborted because their run was cancelled. */
    private readonly counters: { cancelled: number },
  ) {}

  get size(): number {
    return this.tasks.size;
  }

  add(task: RunningTask): void {
    this.tasks.add(task);
  }

  delete(task: RunningTask): void {
    this.tasks.delete(task);
  }

  /** The task's run was cancelled while its handler ran here. */
  wasCancelled(ref: TaskRef): boolean {
    return this.cancelledRefs.has(ref);
  }

  /** Aborts the handlers of a cancelled run; what they report later, the engine drops. */
  cancelRun(event: RunCancelledEvent): void {
    const tasks = [...this.tasks].filter((task) => task.ref.runId === event.runId && !task.cancelled);
    if (tasks.length === 0) return;
    this.logger.info(`run ${event.runId} was cancelled: aborting ${tasks.length} running handler(s)`, { flowSlug: event.flowSlug, runId: event.runId, reason: event.reason });
    const reason = new RunCancelledError(event.runId, event.flowSlug, event.reason, event.cancelledAt);
    for (const task of tasks) {
      task.cancelled = true;
      this.cancelledRefs.add(task.ref);
      this.counters.cancelled++;
      task.controller.abort(reason);
    }
  }

  /**
   * At shutdown: waits up to `gracePeriod` ms for the handlers (less if `forced` aborts), then aborts their
   * signals, waits briefly, and abandons those still running.
   */
  async end(gracePeriod: number, forced: AbortSignal): Promise<void> {
    if (this.tasks.size > 0) await waitAtMost(this.allSettled(), gracePeriod, forced);
    if (this.tasks.size === 0) return;
    this.logger.warn(`grace period over: aborting ${this.tasks.size} running handler(s)`);
    const reason = new WorkerShutdownError();
    for (const task of this.tasks) task.controller.abort(reason);
    await waitAtMost(this.allSettled(), ABORT_WAIT_MS);
    for (const task of [...this.tasks]) {
      // Still running: its result is not waited for; the engine restarts the task after its timeout.
      task.abandon();
      this.tasks.delete(task);
      this.logger.warn('a handler ignored the abort; its task will run again after its timeout', { runId: task.ref.runId, stepSlug: task.ref.stepSlug });
    }
  }

  private async allSettled(): Promise<void> {
    while (this.tasks.size > 0) await Promise.all([...this.tasks].map((task) => task.settled));
  }
}
