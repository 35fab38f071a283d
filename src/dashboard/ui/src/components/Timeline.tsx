/**
 * A run's timeline, Gantt style: one row per task (a map step has one per
 * task_index), on a time axis from the run's start. Each task shows its wait
 * in the queue (queued → started) and its last attempt (started →
 * completed / failed / cancelled, or still running). A task cancelled
 * before it started ends its wait with a cancel mark. The engine keeps the times of a
 * task's latest attempt; earlier attempts of a retried task fall within the
 * hatched segment before it, labelled with the attempt count and the last
 * error. A task waiting for a retry shows when its next attempt can start.
 * A step without tasks (waiting, skipped by its condition, cancelled before
 * it started) has one row saying so.
 */
import { useState } from 'preact/hooks';
import type { FlowDefinition, StepStateDetail, TaskDetail } from '../../../api-types';
import { duration, skipReasonText, time } from '../format';
import { statusClass } from './Status';

interface Props {
  runStartedAt: string;
  runEnd: string | null;
  flow: FlowDefinition;
  steps: StepStateDetail[];
  tasks: TaskDetail[];
  tasksNotShown: Record<string, number>;
  now: number;
}

/** Rows of one map step shown before "show all". */
const ROWS_PER_STEP = 12;

const ms = (iso: string | null) => (iso === null ? null : new Date(iso).getTime());

interface Segment {
  kind: string;
  from: number;
  to: number;
  title: string;
}

function segments(task: TaskDetail, now: number): Segment[] {
  const queued = ms(task.queuedAt)!;
  const started = ms(task.startedAt);
  const finished = ms(task.completedAt) ?? ms(task.failedAt) ?? ms(task.cancelledAt);
  const retried = task.attemptsCount > (task.status === 'queued' ? 0 : 1);
  const waitEnd = started ?? finished ?? now;
  const result: Segment[] = [];
  const earlier = task.status === 'queued' ? task.attemptsCount : task.attemptsCount - 1;
  result.push({
    kind: retried ? 'retry' : 'wait',
    from: queued,
    to: Math.max(waitEnd, queued),
    title: retried
      ? `${earlier} earlier attempt${earlier === 1 ? '' : 's'} failed and ${earlier === 1 ? 'was' : 'were'} retried (queued ${time(task.queuedAt)})${task.errorMessage ? `; last error: ${task.errorMessage}` : ''}`
      : `queued ${time(task.queuedAt)}, waited ${duration(waitEnd - queued)}`,
  });
  if (started !== null) {
    const end = finished ?? now;
    result.push({
      kind: task.status,
      from: started,
      to: Math.max(end, started),
      title: `attempt ${task.attemptsCount}: ${task.status} after ${duration(end - started)} (started ${time(task.startedAt)})${task.status === 'failed' && task.errorMessage ? `; ${task.errorMessage}` : ''}`,
    });
  } else if (finished !== null && task.status === 'failed') {
    result.push({ kind: 'failed', from: finished, to: finished, title: `failed ${time(task.failedAt)}: ${task.errorMessage ?? ''}` });
  } else if (finished !== null && task.status === 'cancelled') {
    result.push({ kind: 'cancelled', from: finished, to: finished, title: `cancelled ${time(task.cancelledAt)} before it started` });
  }
  return result;
}

function rowLabel(task: TaskDetail, isMap: boolean): string {
  return isMap ? `${task.stepSlug}[${task.taskIndex}]` : task.stepSlug;
}

export function Timeline({ runStartedAt, runEnd, flow, steps, tasks, tasksNotShown, now }: Props) {
  const [expanded, setExpanded] = useState<Record<string, boolean>>({});
  const start = ms(runStartedAt)!;
  const times = tasks
    .flatMap((task) => [ms(task.queuedAt), ms(task.startedAt), ms(task.completedAt), ms(task.failedAt), ms(task.cancelledAt), ms(task.visibleAt)])
    .filter((value): value is number => value !== null);
  const end = Math.max(ms(runEnd) ?? now, ...times, start + 1);
  const span = end - start;
  const x = (value: number) => `${(((value - start) / span) * 100).toFixed(3)}%`;
  const width = (from: number, to: number) => `max(2px, ${(((to - from) / span) * 100).toFixed(3)}%)`;
  const states = new Map(steps.map((step) => [step.slug, step]));

  return (
    <div class="timeline" data-testid="timeline">
      <div class="tl-axis">
        <span class="tl-label" />
        <span class="tl-track">
          {[0, 0.25, 0.5, 0.75, 1].map((fraction) => (
            <span key={fraction} class="tick" style={{ left: `${fraction * 100}%` }}>
              {duration(span * fraction)}
            </span>
          ))}
        </span>
      </div>
      {flow.steps.map((step) => {
        const stepTasks = tasks.filter((task) => task.stepSlug === step.slug).sort((a, b) => a.taskIndex - b.taskIndex);
        const isMap = step.type === 'map' || stepTasks.length > 1;
        const state = states.get(step.slug);
        const shown = expanded[step.slug] ? stepTasks : stepTasks.slice(0, ROWS_PER_STEP);
        const hidden = stepTasks.length - shown.length + (tasksNotShown[step.slug] ?? 0);
        if (stepTasks.length === 0) {
          const note = !state
            ? 'no state'
            : state.status === 'skipped'
              ? `skipped: ${skipReasonText(state.skipReason)}`
              : state.status === 'cancelled'
                ? 'cancelled before it had a task'
                : state.status === 'completed'
                  ? 'completed without a task (a map over no elements)'
                  : `${state.status}, no task yet`;
          const mark = ms(state?.skippedAt ?? state?.cancelledAt ?? null);
          return (
            <div key={step.slug} class={`tl-row is-empty ${statusClass(state?.status)}`} data-step={step.slug} data-status={state?.status ?? ''}>
              <span class="tl-label" title={step.slug}>
                {step.slug}
              </span>
              <span class="tl-track">
                <span class="tl-note">{note}</span>
                {mark !== null && <span class={`seg seg-${state!.status}`} style={{ left: x(mark), width: width(mark, mark) }} title={note} />}
              </span>
              <span class="tl-note">{state?.status ?? ''}</span>
            </div>
          );
        }
        return [
          ...shown.map((task) => (
            <div key={`${step.slug}:${task.taskIndex}`} class={`tl-row ${statusClass(task.status)}`} data-step={step.slug} data-task={task.taskIndex} data-status={task.status} data-attempts={task.attemptsCount}>
              <span class="tl-label" title={rowLabel(task, isMap)}>
                {rowLabel(task, isMap)}
              </span>
              <span class="tl-track">
                {segments(task, now).map((segment) => (
                  <span key={segment.kind + segment.from} class={`seg seg-${segment.kind}`} style={{ left: x(segment.from), width: width(segment.from, segment.to) }} title={segment.title} />
                ))}
                {task.visibleAt && <span class="seg-next" style={{ left: x(ms(task.visibleAt)!) }} title={`next attempt can start at ${time(task.visibleAt)}`} />}
              </span>
              <span class="tl-note">
                {task.status}
                {task.startedAt && ` · ${duration((ms(task.completedAt) ?? ms(task.failedAt) ?? ms(task.cancelledAt) ?? now) - ms(task.startedAt)!)}`}
                {task.attemptsCount > 1 && ` · ${task.attemptsCount} attempts`}
                {task.visibleAt && ' · retry pending'}
                {state?.status === 'skipped' && ` · step skipped: ${skipReasonText(state.skipReason)}`}
              </span>
            </div>
          )),
          hidden > 0 && (
            <div key={`${step.slug}:more`} class="tl-row is-more">
              <span class="tl-label" />
              <span class="tl-track">
                {stepTasks.length > shown.length ? (
                  <button type="button" onClick={() => setExpanded({ ...expanded, [step.slug]: true })}>
                    Show {stepTasks.length - shown.length} more tasks of {step.slug}
                  </button>
                ) : null}
                {(tasksNotShown[step.slug] ?? 0) > 0 && <span class="tl-note"> {tasksNotShown[step.slug]} more tasks are not listed here</span>}
              </span>
            </div>
          ),
        ];
      })}
    </div>
  );
}
