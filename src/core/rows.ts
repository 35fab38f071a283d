/**
 * Turns rows as the drivers return them (snake_case keys, int8 as strings)
 * into the camelCase rows of ./row-types.ts.
 */
import type { ClaimedTask, FlowRow, Json, QueueMessage, RunRow, ScheduleRow, ScheduleTickRow, StepRow, StepStateRow, StepTaskRecord, StepTaskRow, WorkerRow } from './types.js';

type Row = Record<string, unknown>;

const camelCase = (key: string) => key.replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** int8 columns arrive as strings from node-postgres and postgres.js. */
const toNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));

/** Timestamps arrive as Date from the drivers, but as ISO strings inside JSON documents. */
const toDate = (value: unknown) => (value === null || value === undefined ? null : value instanceof Date ? value : new Date(String(value)));

function camelizeRow(row: Row, dateKeys: readonly string[] = []): Row {
  const result: Row = {};
  for (const [key, value] of Object.entries(row)) {
    const name = camelCase(key);
    result[name] = dateKeys.includes(name) ? toDate(value) : value;
  }
  return result;
}

const FLOW_DATES = ['createdAt', 'pausedAt'] as const;
const STEP_DATES = ['createdAt'] as const;
const RUN_DATES = ['startedAt', 'completedAt', 'failedAt', 'cancelledAt'] as const;
const STEP_STATE_DATES = ['createdAt', 'startedAt', 'completedAt', 'failedAt', 'skippedAt', 'cancelledAt'] as const;
const TASK_DATES = ['queuedAt', 'startedAt', 'completedAt', 'failedAt', 'cancelledAt'] as const;
const SCHEDULE_DATES = ['createdAt', 'updatedAt'] as const;
const TICK_DATES = ['tick', 'firedAt'] as const;
const WORKER_DATES = ['startedAt', 'stoppedAt', 'deprecatedAt', 'lastHeartbeatAt'] as const;

export const toFlow = (row: Row) => camelizeRow(row, FLOW_DATES) as unknown as FlowRow;
export const toStep = (row: Row) => camelizeRow(row, STEP_DATES) as unknown as StepRow;
export const toRun = (row: Row) => camelizeRow(row, RUN_DATES) as unknown as RunRow;
export const toStepState = (row: Row) => camelizeRow(row, STEP_STATE_DATES) as unknown as StepStateRow;
export const toWorker = (row: Row) => camelizeRow(row, WORKER_DATES) as unknown as WorkerRow;
export const toSchedule = (row: Row) => camelizeRow(row, SCHEDULE_DATES) as unknown as ScheduleRow;
export const toScheduleTick = (row: Row) => camelizeRow(row, TICK_DATES) as unknown as ScheduleTickRow;

export function toStepTask(row: Row): StepTaskRow {
  const task = camelizeRow(row, TASK_DATES);
  task.messageId = toNumber(task.messageId);
  return task as unknown as StepTaskRow;
}

export function toStepTaskRecord<TInput>(row: Row): StepTaskRecord<TInput> {
  return {
    flowSlug: row.flow_slug as string,
    runId: row.run_id as string,
    stepSlug: row.step_slug as string,
    input: row.input as TInput,
    msgId: Number(row.msg_id),
    taskIndex: row.task_index as number,
  };
}

export function toClaimedTask<TInput>(row: Row): ClaimedTask<TInput> {
  return { ...toStepTaskRecord<TInput>(row), attemptsCount: row.attempts_count as number };
}

export function toQueueMessage<TMessage = Json>(row: Row): QueueMessage<TMessage> {
  return {
    msgId: Number(row.msg_id),
    readCt: row.read_ct as number,
    enqueuedAt: toDate(row.enqueued_at) as Date,
    vt: toDate(row.vt) as Date,
    message: row.message as TMessage,
    headers: (row.headers ?? null) as Json | null,
  };
}
