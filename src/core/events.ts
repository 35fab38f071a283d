/**
 * The engine's realtime events as typed objects. The engine sends each event
 * with pg_notify on channel `pgflow_events` and on the channel named after the
 * flow, as JSON: `{"event", "topic", "timestamp", "payload": {event_type,
 * flow_slug, run_id, step_slug?, status, error_message?, ...}}`. Events never
 * carry inputs or outputs; read them with getRun. They arrive in commit
 * order; their timestamps are not an ordering key (see EventBase.timestamp).
 * Flow events (flow:paused, flow:resumed) concern a flow, not a run, and have
 * no runId.
 */
import { SKIP_REASONS, type Json, type SkipReason } from './types.js';

export const EVENTS_CHANNEL = 'pgflow_events';

export const EVENT_TYPES = [
  'run:started',
  'step:started',
  'step:completed',
  'step:failed',
  'step:skipped',
  'run:completed',
  'run:failed',
  'run:cancelled',
  'run:retried',
  'flow:paused',
  'flow:resumed',
] as const;
export type PgflowEventType = (typeof EVENT_TYPES)[number];

interface EventBase {
  flowSlug: string;
  runId: string;
  /**
   * When the engine built the event, inside its transaction and before the
   * commit that delivers it. Not an ordering key: events arrive in commit
   * order, and an event built earlier may commit later, so timestamps of
   * consecutive events can go backwards.
   */
  timestamp: Date;
  /** The payload as sent (snake_case keys). */
  payload: { [key: string]: Json };
}

export interface RunStartedEvent extends EventBase {
  type: 'run:started';
  status: 'started';
  remainingSteps: number | null;
  startedAt: Date;
}

export interface RunCompletedEvent extends EventBase {
  type: 'run:completed';
  status: 'completed';
  completedAt: Date;
}

export interface RunFailedEvent extends EventBase {
  type: 'run:failed';
  status: 'failed';
  /** The error of the step that failed the run. */
  errorMessage: string | null;
  failedStepSlug: string | null;
  failedAt: Date;
}

/** The run was cancelled (pgflow.cancel_run): its unfinished steps and tasks are `cancelled` and nothing of it runs again unless it is retried. */
export interface RunCancelledEvent extends EventBase {
  type: 'run:cancelled';
  status: 'cancelled';
  /** The reason given to cancel_run (null when none was). */
  reason: string | null;
  cancelledAt: Date;
}

/** A failed or cancelled run was started again (pgflow.retry_run): it is `started`, and its unfinished steps run again. */
export interface RunRetriedEvent extends EventBase {
  type: 'run:retried';
  status: 'started';
  /** How many steps run again. */
  retriedSteps: number | null;
  retriedAt: Date;
}

export interface StepStartedEvent extends EventBase {
  type: 'step:started';
  status: 'started';
  stepSlug: string;
  startedAt: Date;
}

export interface StepCompletedEvent extends EventBase {
  type: 'step:completed';
  status: 'completed';
  stepSlug: string;
  completedAt: Date;
}

export interface StepFailedEvent extends EventBase {
  type: 'step:failed';
  status: 'failed';
  stepSlug: string;
  errorMessage: string | null;
  failedAt: Date;
}

/**
 * A step was skipped: its condition was not met, its task failed its last
 * attempt (when_exhausted 'skip' / 'skip-cascade'), or a step it depends on
 * was skipped with 'skip-cascade'. The run goes on without it.
 */
export interface StepSkippedEvent extends EventBase {
  type: 'step:skipped';
  status: 'skipped';
  stepSlug: string;
  skipReason: SkipReason | null;
  /** The last attempt's error, when the step was skipped because its task failed. */
  errorMessage: string | null;
  skippedAt: Date;
}

/** Events about a flow rather than a run: they have no runId. */
interface FlowEventBase {
  flowSlug: string;
  runId?: undefined;
  timestamp: Date;
  payload: { [key: string]: Json };
}

/** The flow was paused (pgflow.pause_flow): workers start none of its tasks until it is resumed. */
export interface FlowPausedEvent extends FlowEventBase {
  type: 'flow:paused';
  status: 'paused';
  pausedAt: Date;
}

/** The flow was resumed (pgflow.resume_flow): its queued tasks are claimed again. */
export interface FlowResumedEvent extends FlowEventBase {
  type: 'flow:resumed';
  status: 'resumed';
}

export type RunEvent = RunStartedEvent | RunCompletedEvent | RunFailedEvent | RunCancelledEvent | RunRetriedEvent;
export type StepEvent = StepStartedEvent | StepCompletedEvent | StepFailedEvent | StepSkippedEvent;
export type FlowEvent = FlowPausedEvent | FlowResumedEvent;
export type PgflowEvent = RunEvent | StepEvent | FlowEvent;

/**
 * Whether the event is about a flow (no runId) rather than a run.
 *
 * @example
 * ```ts
 * import { isFlowEvent } from 'pgflow-orm';
 *
 * const unsubscribe = await client.onEvent((event) => {
 *   if (isFlowEvent(event)) console.log(`${event.flowSlug}: ${event.type}`);
 *   else console.log(`${event.flowSlug} run ${event.runId}: ${event.type}`);
 * });
 * unsubscribe();
 * ```
 */
export const isFlowEvent = (event: PgflowEvent): event is FlowEvent => event.type === 'flow:paused' || event.type === 'flow:resumed';

const text = (value: Json | undefined): string | null => (typeof value === 'string' ? value : null);
const date = (value: Json | undefined, fallback: Date): Date => {
  if (typeof value !== 'string') return fallback;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? fallback : parsed;
};

/**
 * Parses a notification's text; undefined when it is not a pgflow event of a known type.
 *
 * @example
 * ```ts
 * import pg from 'pg';
 * import { EVENTS_CHANNEL, parseEvent } from 'pgflow-orm';
 *
 * const listener = new pg.Client({ connectionString: process.env.DATABASE_URL });
 * await listener.connect();
 * listener.on('notification', (message) => {
 *   const event = message.payload === undefined ? undefined : parseEvent(message.payload);
 *   if (event?.type === 'run:failed') console.log(event.runId, event.errorMessage);
 * });
 * await listener.query(`listen ${EVENTS_CHANNEL}`);
 * ```
 */
export function parseEvent(notification: string): PgflowEvent | undefined {
  let envelope: { event?: Json; timestamp?: Json; payload?: Json };
  try {
    envelope = JSON.parse(notification) as typeof envelope;
  } catch {
    return undefined;
  }
  const payload = envelope.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const type = (payload.event_type ?? envelope.event) as string;
  const runId = text(payload.run_id);
  const flowSlug = text(payload.flow_slug);
  if (!EVENT_TYPES.includes(type as PgflowEventType) || flowSlug === null) return undefined;
  const timestamp = typeof envelope.timestamp === 'number' ? new Date(envelope.timestamp * 1000) : new Date();
  if (type === 'flow:paused') return { flowSlug, timestamp, payload, type, status: 'paused', pausedAt: date(payload.paused_at, timestamp) };
  if (type === 'flow:resumed') return { flowSlug, timestamp, payload, type, status: 'resumed' };
  if (runId === null) return undefined;
  const base = { flowSlug, runId, timestamp, payload };
  const stepSlug = text(payload.step_slug) ?? '';
  switch (type as PgflowEventType) {
    case 'run:started':
      return { ...base, type: 'run:started', status: 'started', remainingSteps: typeof payload.remaining_steps === 'number' ? payload.remaining_steps : null, startedAt: date(payload.started_at, timestamp) };
    case 'run:completed':
      return { ...base, type: 'run:completed', status: 'completed', completedAt: date(payload.completed_at, timestamp) };
    case 'run:failed':
      return { ...base, type: 'run:failed', status: 'failed', errorMessage: text(payload.error_message), failedStepSlug: text(payload.failed_step_slug), failedAt: date(payload.failed_at, timestamp) };
    case 'run:cancelled':
      return { ...base, type: 'run:cancelled', status: 'cancelled', reason: text(payload.reason), cancelledAt: date(payload.cancelled_at, timestamp) };
    case 'run:retried':
      return {
        ...base,
        type: 'run:retried',
        status: 'started',
        retriedSteps: typeof payload.retried_steps === 'number' ? payload.retried_steps : null,
        retriedAt: date(payload.retried_at, timestamp),
      };
    case 'step:started':
      return { ...base, type: 'step:started', status: 'started', stepSlug, startedAt: date(payload.started_at, timestamp) };
    case 'step:completed':
      return { ...base, type: 'step:completed', status: 'completed', stepSlug, completedAt: date(payload.completed_at, timestamp) };
    case 'step:failed':
      return { ...base, type: 'step:failed', status: 'failed', stepSlug, errorMessage: text(payload.error_message), failedAt: date(payload.failed_at, timestamp) };
    case 'step:skipped': {
      const reason = text(payload.skip_reason);
      return {
        ...base,
        type: 'step:skipped',
        status: 'skipped',
        stepSlug,
        skipReason: reason !== null && (SKIP_REASONS as readonly string[]).includes(reason) ? (reason as SkipReason) : null,
        errorMessage: text(payload.error_message),
        skippedAt: date(payload.skipped_at, timestamp),
      };
    }
  }
}
