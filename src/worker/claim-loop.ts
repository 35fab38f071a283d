/**
 * Claiming and wake-ups: the loop that claims tasks, and what wakes it.
 *
 * Work is claimed with `pgflow.claim_tasks` (read + start in one call) in
 * batches of up to `batchSize`, never more than `concurrency` handlers at a
 * time, taking the flows in turn; a flow whose claim fails backs off while
 * the others go on. The worker LISTENs on each flow's channel: run:started
 * and step:completed (or step:skipped) mean new tasks are queued, so an idle
 * worker claims within milliseconds and otherwise sends nothing but a poll
 * every `pollInterval` (the fallback for tasks that become visible without an
 * event: retries after their backoff, start delays, tasks of dead workers).
 * Retries and start delays of its own flows are also woken by timers at the
 * moment they become visible. `run:retried` and `flow:resumed` mean tasks are
 * queued again; `run:cancelled` goes to whoever aborts that run's handlers. A
 * paused flow's claims return nothing: the loop keeps polling it quietly (no
 * log line per poll) and picks its tasks up when it is resumed.
 */
import { parseEvent, type RunCancelledEvent } from '../core/events.js';
import { backoffDelay, errorMessage, isConnectionError } from '../core/retry.js';
import type { PgflowSql } from '../core/sql-api.js';
import type { ClaimedTask } from '../core/types.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/ensure.js';
import type { AnyFlow, StepDefinition } from '../flow/flow.js';
import type { Logger } from '../flow/logger.js';
import type { WorkerSettings } from './options.js';

export interface ClaimLoopOptions {
  sql: PgflowSql;
  logger: Logger;
  flows: readonly AnyFlow[];
  /** The worker's id for each flow queue, by flow slug. */
  workerIds: ReadonlyMap<string, string>;
  settings: Pick<WorkerSettings, 'concurrency' | 'batchSize' | 'pollInterval'>;
  /** The handlers running now, for the free capacity. */
  running: { readonly size: number };
  /** Aborted when the worker stops: the loop ends and no timer is set any more. */
  stopping: AbortSignal;
  /** Tasks were claimed for the flow: start their handlers. */
  claimed(flow: AnyFlow, tasks: ClaimedTask<unknown>[]): void;
  /** A run of one of the flows was cancelled. */
  runCancelled(event: RunCancelledEvent): void;
}

/** What the loop knows of one flow. */
interface FlowState {
  flow: AnyFlow;
  workerId: string;
  /** Tasks may be waiting: claim before sleeping. */
  dirty: boolean;
  /** Consecutive failed claims, and when to try again after the last one (epoch ms). */
  failures: number;
  retryAt: number;
  /** Steps without dependencies, and dependents by step. */
  roots: StepDefinition[];
  dependents: Map<string, StepDefinition[]>;
}

export class ClaimLoop {
  private readonly flows: FlowState[];
  private readonly bySlug: Map<string, FlowState>;
  private readonly wakeTimers = new Map<number, NodeJS.Timeout>();
  private wakeUp: (() => void) | undefined;
  private lastPoll = 0;

  constructor(private readonly options: ClaimLoopOptions) {
    this.flows = options.flows.map((flow) => {
      const dependents = new Map<string, StepDefinition[]>();
      for (const step of flow.steps) for (const dep of step.dependsOn) dependents.set(dep, [...(dependents.get(dep) ?? []), step]);
      return { flow, workerId: options.workerIds.get(flow.slug)!, dirty: true, failures: 0, retryAt: 0, roots: flow.steps.filter((step: StepDefinition) => step.dependsOn.length === 0), dependents };
    });
    this.bySlug = new Map(this.flows.map((state) => [state.flow.slug, state]));
  }

  /** Ends the loop's sleep, if it sleeps. */
  wake(): void {
    const wakeUp = this.wakeUp;
    this.wakeUp = undefined;
    wakeUp?.();
  }

  /** Claims from every flow before sleeping again (e.g. after LISTEN reconnected: notifications may have been missed). */
  markAllDirty(): void {
    for (const state of this.flows) state.dirty = true;
    this.wake();
  }

  /** Claims until the worker stops; resolves once the last claim is done. */
  async run(): Promise<void> {
    const { concurrency, batchSize, pollInterval } = this.options.settings;
    const stopping = this.options.stopping;
    let next = 0;
    while (!stopping.aborted) {
      if (Date.now() - this.lastPoll >= pollInterval) {
        this.lastPoll = Date.now();
        for (const state of this.flows) state.dirty = true;
      }
      for (let visited = 0; visited < this.flows.length && !stopping.aborted; visited++) {
        const state = this.flows[(next + visited) % this.flows.length]!;
        const capacity = concurrency - this.options.running.size;
        if (capacity <= 0) break;
        if (!state.dirty || state.retryAt > Date.now()) continue;
        state.dirty = false;
        const qty = Math.min(batchSize, capacity);
        try {
          const claimed = await this.claim(state, qty);
          if (state.failures > 0) this.options.logger.info('claiming works again', { flow: state.flow.slug, afterFailures: state.failures });
          state.failures = 0;
          state.retryAt = 0;
          if (claimed === qty) state.dirty = true;
        } catch (error) {
          // This flow backs off; the others go on.
          state.dirty = true;
          const delay = backoffDelay(state.failures++, { initial: 200, max: 10_000 });
          state.retryAt = Date.now() + delay;
          const problem = isConnectionError(error) ? 'database unreachable' : 'claiming failed';
          this.options.logger.warn(`${problem}; retrying in ${delay} ms`, { flow: state.flow.slug, attempt: state.failures, error: errorMessage(error) });
        }
      }
      next = (next + 1) % this.flows.length;
      if (stopping.aborted) break;
      const now = Date.now();
      const hasCapacity = this.options.running.size < concurrency;
      if (hasCapacity && this.flows.some((state) => state.dirty && state.retryAt <= now)) continue;
      let wait = pollInterval - (now - this.lastPoll);
      if (hasCapacity) for (const state of this.flows) if (state.dirty && state.retryAt > now) wait = Math.min(wait, state.retryAt - now);
      await this.sleepUntilWoken(Math.max(0, wait));
    }
  }

  private sleepUntilWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** Claims up to `qty` tasks of the flow and hands them over; returns how many were claimed. */
  private async claim(state: FlowState, qty: number): Promise<number> {
    const tasks = await this.options.sql.claimTasks(state.flow.slug, state.workerId, qty);
    if (tasks.length === 0) return 0;
    this.options.claimed(state.flow, tasks);
    return tasks.length;
  }

  /** A notification on a flow's channel: wakes the loop when it means tasks are (or soon will be) queued. */
  onNotification(channel: string, payload: string): void {
    const state = this.bySlug.get(channel);
    if (!state) return;
    const event = parseEvent(payload);
    if (!event) {
      state.dirty = true;
      this.wake();
      return;
    }
    if (event.type === 'run:cancelled') return this.options.runCancelled(event);
    if (event.type === 'run:retried' || event.type === 'flow:resumed') {
      // Tasks were queued again (or may be claimed again).
      state.dirty = true;
      this.wake();
      return;
    }
    let steps: StepDefinition[];
    if (event.type === 'run:started') steps = state.roots;
    // A finished step (completed, or skipped while the run goes on) may have made its dependents ready.
    else if (event.type === 'step:completed' || event.type === 'step:skipped') steps = state.dependents.get(event.stepSlug) ?? [];
    else return;
    let now = false;
    for (const step of steps) {
      const delay = step.options.startDelay ?? 0;
      if (delay > 0) this.scheduleWake(state, delay * 1000 + 20);
      else now = true;
    }
    if (now) {
      state.dirty = true;
      this.wake();
    }
  }

  /** A failed attempt will be retried after its backoff: wake up when its message becomes visible. */
  wakeForRetry(task: { flowSlug: string; stepSlug: string }, attemptsCount: number): void {
    const state = this.bySlug.get(task.flowSlug);
    if (!state || attemptsCount < 1) return;
    const step = state.flow.getStep(task.stepSlug);
    const baseDelay = step?.options.baseDelay ?? state.flow.options.baseDelay ?? DEFAULT_FLOW_OPTIONS.baseDelay;
    this.scheduleWake(state, Math.floor(baseDelay * 2 ** (attemptsCount - 1)) * 1000 + 20);
  }

  /** Clears the wake-up timers (at shutdown). */
  clearTimers(): void {
    for (const timer of this.wakeTimers.values()) clearTimeout(timer);
    this.wakeTimers.clear();
  }

  private scheduleWake(state: FlowState, ms: number): void {
    if (this.options.stopping.aborted || ms > 24 * 3600 * 1000) return;
    // One timer per flow and 50 ms slot is enough.
    const slot = Math.ceil((Date.now() + ms) / 50) * this.flows.length + this.flows.indexOf(state);
    if (this.wakeTimers.has(slot)) return;
    const timer = setTimeout(() => {
      this.wakeTimers.delete(slot);
      state.dirty = true;
      this.wake();
    }, ms);
    this.wakeTimers.set(slot, timer);
  }
}
