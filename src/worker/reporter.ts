/**
 * Reports task results to the engine. Completions are batched: they collect
 * for about a millisecond (or until a batch is full) and go out in one
 * `complete_tasks` call; while a call is in flight new completions wait for
 * the next one, so batches grow with load and stay small (fast) when idle.
 * Failures go out one by one with `fail_task`.
 *
 * A lost connection is retried with backoff; completions are kept until they
 * are stored, failures until the attempt's deadline (after that the engine
 * restarts the task by itself, and a late failure could hit the new attempt).
 * A completion the database refuses (e.g. a task that no longer exists) is
 * retried alone and, if still refused, turned into a failure of the task.
 * Error messages are stored with NUL characters written out as `\u0000`.
 */
import type { PgflowSql } from '../core/sql-api.js';
import type { StepTaskRow } from '../core/types.js';
import type { Logger } from '../flow/logger.js';
import { backoffDelay, errorMessage, isConnectionError, sleep, waitAtMost } from '../core/retry.js';

export interface TaskRef {
  flowSlug: string;
  runId: string;
  stepSlug: string;
  taskIndex: number;
  /** Epoch ms after which the engine may restart the task (started + timeout + 2 s). */
  deadline: number;
}

interface PendingCompletion {
  task: TaskRef;
  output: unknown;
}

export interface ReporterHooks {
  /** A failure was recorded; `task` is the row fail_task returned (status queued = retry, failed = for good). */
  onFailed?(ref: TaskRef, task: StepTaskRow | null): void;
  onCompleted?(ref: TaskRef, stored: boolean): void;
}

const MAX_BATCH = 100;
const BATCH_DELAY_MS = 1;

export class TaskReporter {
  private pending: PendingCompletion[] = [];
  private flushing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly failures = new Set<Promise<void>>();
  private readonly giveUp = new AbortController();
  private giveUpAt = Number.POSITIVE_INFINITY;

  constructor(
    private readonly sql: PgflowSql,
    private readonly logger: Logger,
    private readonly hooks: ReporterHooks = {},
  ) {}

  /** Results not yet stored. */
  get backlog(): number {
    return this.pending.length + this.failures.size;
  }

  complete(task: TaskRef, output: unknown): void {
    this.pending.push({ task, output });
    if (this.flushing) return;
    if (this.pending.length >= MAX_BATCH) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startFlush();
    } else {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.startFlush();
      }, BATCH_DELAY_MS);
    }
  }

  fail(task: TaskRef, message: string): void {
    // PostgreSQL text cannot hold NUL: a handler's error message with one is stored with `\u0000` written out,
    // rather than refused (which would leave the task to its timeout).
    const report = this.sendFailure(task, message.replaceAll('\u0000', '\\u0000')).finally(() => this.failures.delete(report));
    this.failures.add(report);
  }

  /** Stores everything pending, retrying until `deadline` (epoch ms); then drops what is left and logs it. */
  async drain(deadline: number): Promise<void> {
    this.giveUpAt = deadline;
    const timer = setTimeout(() => this.giveUp.abort(), Math.max(0, deadline - Date.now()));
    try {
      clearTimeout(this.timer);
      this.timer = undefined;
      while (this.pending.length > 0 || this.flushing || this.failures.size > 0) {
        if (this.giveUp.signal.aborted) break;
        if (!this.flushing && this.pending.length > 0) this.startFlush();
        await waitAtMost(Promise.all([this.flushing, ...this.failures]), Math.max(0, deadline - Date.now()), this.giveUp.signal);
      }
    } finally {
      clearTimeout(timer);
    }
    if (this.pending.length > 0 || this.failures.size > 0) {
      this.logger.error('could not store some task results before shutting down; the engine will run those tasks again after their timeout', {
        completions: this.pending.length,
        failures: this.failures.size,
      });
    }
  }

  private startFlush(): void {
    if (this.flushing || this.pending.length === 0) return;
    this.flushing = this.flush().finally(() => {
      this.flushing = undefined;
      if (this.pending.length > 0 && !this.giveUp.signal.aborted) this.startFlush();
    });
  }

  private async flush(): Promise<void> {
    let failures = 0;
    while (this.pending.length > 0 && !this.giveUp.signal.aborted) {
      const batch = this.pending.splice(0, MAX_BATCH);
      try {
        await this.store(batch);
        if (failures > 0) this.logger.info('stored task results again after a connection problem', { count: batch.length });
        failures = 0;
      } catch (error) {
        if (isConnectionError(error)) {
          this.pending.unshift(...batch);
          const delay = backoffDelay(failures++, { max: 5_000 });
          this.logger.warn(`cannot store ${batch.length} task result(s): database unreachable; retrying in ${delay} ms`, { error: errorMessage(error) });
          await sleep(delay, this.giveUp.signal);
          continue;
        }
        await this.storeOneByOne(batch, error);
      }
    }
  }

  private async store(batch: PendingCompletion[]): Promise<void> {
    const stored = await this.sql.completeTasks(
      batch.map(({ task, output }) => ({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output: output ?? null })),
    );
    const done = new Set(stored.map((task) => `${task.runId}/${task.stepSlug}/${task.taskIndex}`));
    for (const { task } of batch) {
      const ok = done.has(`${task.runId}/${task.stepSlug}/${task.taskIndex}`);
      if (!ok) this.logger.debug('completion ignored: the task is no longer started or its run has failed', { runId: task.runId, stepSlug: task.stepSlug });
      this.hooks.onCompleted?.(task, ok);
    }
  }

  /** A batch was refused: find the culprit(s) by storing each alone; refused ones fail their task. */
  private async storeOneByOne(batch: PendingCompletion[], batchError: unknown): Promise<void> {
    if (batch.length > 1) this.logger.warn('a batch of completions was refused; storing them one by one', { count: batch.length, error: errorMessage(batchError) });
    for (const [index, item] of batch.entries()) {
      try {
        await this.store([item]);
      } catch (error) {
        if (isConnectionError(error)) {
          this.pending.unshift(...batch.slice(index));
          return;
        }
        this.logger.error('the database refused a step output; failing the task', { runId: item.task.runId, stepSlug: item.task.stepSlug, error: errorMessage(error) });
        this.fail(item.task, `could not store the output of step "${item.task.stepSlug}": ${errorMessage(error)}`);
      }
    }
  }

  private async sendFailure(task: TaskRef, message: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const row = await this.sql.failTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, errorMessage: message });
        this.hooks.onFailed?.(task, row);
        return;
      } catch (error) {
        const delay = backoffDelay(attempt, { max: 5_000 });
        const stopAt = Math.min(task.deadline, this.giveUpAt);
        if (!isConnectionError(error) || Date.now() + delay >= stopAt || this.giveUp.signal.aborted) {
          this.logger.error('could not record a failed attempt; the engine will retry the task after its timeout', {
            runId: task.runId,
            stepSlug: task.stepSlug,
            error: errorMessage(error),
          });
          return;
        }
        this.logger.warn(`cannot record a failed attempt: database unreachable; retrying in ${delay} ms`, { runId: task.runId, stepSlug: task.stepSlug, error: errorMessage(error) });
        await sleep(delay, this.giveUp.signal);
      }
    }
  }
}
