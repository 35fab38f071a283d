/**
 * A run: its DAG coloured by step status, the timeline of every task, its
 * input and output, each step's state and error (a skipped step: why), each
 * task's output, and the engine's events as they arrive. Everything updates
 * live while it runs, and when it is cancelled or retried. Cancel and retry
 * are offered when the dashboard allows actions.
 */
import { useRoute } from 'preact-iso';
import type { LiveEvent, RunDetailData } from '../../../api-types';
import { Actions } from '../components/Actions';
import { FlowGraph } from '../components/FlowGraph';
import { JsonView } from '../components/JsonView';
import { Layout, Loading, Problem } from '../components/Layout';
import { Status } from '../components/Status';
import { Timeline } from '../components/Timeline';
import { href } from '../config';
import { between, clock, duration, runEnd, skipReasonText, time } from '../format';
import { useLiveView, useNow } from '../live';

/** The run's history as its timestamps tell it, for the event list before live events arrive. */
function recordedEvents(data: RunDetailData): LiveEvent[] {
  const { run } = data;
  const base = { flowSlug: run.flowSlug, runId: run.runId, errorMessage: null, skipReason: null, reason: null };
  const events: LiveEvent[] = [{ ...base, type: 'run:started', stepSlug: null, status: 'started', at: run.startedAt }];
  for (const step of data.steps) {
    if (step.startedAt) events.push({ ...base, type: 'step:started', stepSlug: step.slug, status: 'started', at: step.startedAt });
    if (step.completedAt) events.push({ ...base, type: 'step:completed', stepSlug: step.slug, status: 'completed', at: step.completedAt });
    if (step.failedAt) events.push({ ...base, type: 'step:failed', stepSlug: step.slug, status: 'failed', errorMessage: step.errorMessage, at: step.failedAt });
    if (step.skippedAt) {
      events.push({ ...base, type: 'step:skipped', stepSlug: step.slug, status: 'skipped', skipReason: step.skipReason, errorMessage: step.errorMessage, at: step.skippedAt });
    }
  }
  if (run.completedAt) events.push({ ...base, type: 'run:completed', stepSlug: null, status: 'completed', at: run.completedAt });
  if (run.failedAt) events.push({ ...base, type: 'run:failed', stepSlug: null, status: 'failed', at: run.failedAt });
  if (run.cancelledAt) events.push({ ...base, type: 'run:cancelled', stepSlug: null, status: 'cancelled', reason: run.cancelReason, at: run.cancelledAt });
  // Events of one statement share a timestamp: those keep the run first and the steps in flow order.
  const order = (event: LiveEvent) => (event.stepSlug === null ? (event.type === 'run:started' ? -1 : Number.MAX_SAFE_INTEGER) : (data.flow.steps.find((step) => step.slug === event.stepSlug)?.index ?? 0));
  return events.sort((a, b) => a.at.localeCompare(b.at) || order(a) - order(b));
}

/** What an event says besides its type and step: why a step was skipped, why a run was cancelled, an error. */
function EventDetails({ event }: { event: LiveEvent }) {
  return (
    <>
      {event.type === 'step:skipped' && <span class="muted"> ({skipReasonText(event.skipReason)})</span>}
      {event.type === 'run:cancelled' && event.reason && <span class="muted"> reason: {event.reason}</span>}
      {event.errorMessage && <span class="error-text"> {event.errorMessage}</span>}
    </>
  );
}

function EventList({ recorded, live }: { recorded: LiveEvent[]; live: LiveEvent[] }) {
  return (
    <ol class="events" data-testid="events">
      {recorded.map((event, index) => (
        <li key={`r${index}`} class="recorded" data-event={event.type}>
          <span class="when">{clock(event.at, true)}</span> <span class="type">{event.type}</span> {event.stepSlug && <span class="mono">{event.stepSlug}</span>}
          <EventDetails event={event} />
        </li>
      ))}
      {live.map((event, index) => (
        <li key={`l${index}`} class="live-event" data-event={event.type}>
          <span class="when">{clock(event.at, true)}</span> <span class="type">{event.type}</span> {event.stepSlug && <span class="mono">{event.stepSlug}</span>}
          <EventDetails event={event} />
          <span class="tag-live">live</span>
        </li>
      ))}
    </ol>
  );
}

/** The step's state in the steps table: its status, and why when it was skipped. */
function stepNote(step: RunDetailData['steps'][number] | undefined): string {
  if (!step) return '';
  if (step.status === 'skipped') return `skipped: ${skipReasonText(step.skipReason)}${step.errorMessage ? ` (last error: ${step.errorMessage})` : ''}`;
  return step.errorMessage ?? '';
}

export function RunPage() {
  const { params } = useRoute();
  const runId = params.id ?? '';
  const view = useLiveView<RunDetailData>(`/runs/${encodeURIComponent(runId)}`, new URLSearchParams(), new URLSearchParams({ view: 'run', run: runId }));
  const { data, error, events } = view;
  const running = data?.run.status === 'started';
  const now = useNow(running);
  const end = data ? runEnd(data.run) : null;
  const stepIndex = (slug: string) => data?.flow.steps.find((step) => step.slug === slug)?.index ?? 0;
  // The snapshot's clock, moved on by the browser's while the run is in progress.
  const nowForRun = data ? (running ? Math.max(now, new Date(data.now).getTime()) : new Date(data.now).getTime()) : now;
  return (
    <Layout title={`Run ${runId}`} live={view.live}>
      <div class="heading">
        <h1>
          Run <span class="mono" data-testid="run-id">{runId}</span>
        </h1>
        {data && <Actions target="run" id={data.run.runId} label={`run ${data.run.runId}`} state={data.run.status} />}
      </div>
      {error && <Problem status={error.status} message={error.message} />}
      {!data && !error && <Loading />}
      {data && (
        <>
          <dl class="facts" data-testid="run-facts">
            <div>
              <dt>flow</dt>
              <dd>
                <a href={href(`/flows/${encodeURIComponent(data.run.flowSlug)}?run=${data.run.runId}`)}>{data.run.flowSlug}</a>
              </dd>
            </div>
            <div>
              <dt>status</dt>
              <dd data-testid="run-status">
                <Status status={data.run.status} />
              </dd>
            </div>
            <div>
              <dt>started</dt>
              <dd>{time(data.run.startedAt)}</dd>
            </div>
            <div>
              <dt>{data.run.failedAt ? 'failed' : data.run.completedAt ? 'completed' : data.run.cancelledAt ? 'cancelled' : 'running for'}</dt>
              <dd>{end ? `${time(end)} (after ${duration(between(data.run.startedAt, end))})` : duration(nowForRun - new Date(data.run.startedAt).getTime())}</dd>
            </div>
            {data.run.cancelledAt && (
              <div>
                <dt>cancel reason</dt>
                <dd data-testid="cancel-reason">{data.run.cancelReason ?? <span class="muted">none given</span>}</dd>
              </div>
            )}
            <div>
              <dt>steps left</dt>
              <dd>{data.run.remainingSteps}</dd>
            </div>
          </dl>
          {data.flow.pausedAt && running && (
            <p class="paused-note" data-testid="flow-paused">
              <span class="badge-paused">paused</span> Flow {data.run.flowSlug} is paused since {time(data.flow.pausedAt)}: workers start none of its tasks until it is resumed.
            </p>
          )}
          <FlowGraph flow={data.flow} statuses={Object.fromEntries(data.steps.map((step) => [step.slug, step]))} />
          <section class="card">
            <h2>Timeline</h2>
            <Timeline runStartedAt={data.run.startedAt} runEnd={end} flow={data.flow} steps={data.steps} tasks={data.tasks} tasksNotShown={data.tasksNotShown} now={nowForRun} />
          </section>
          <div class="columns">
            <section class="card">
              <h2>Input</h2>
              <JsonView value={data.run.input} source={{ runId: data.run.runId, params: { part: 'input' } }} testId="run-input" />
            </section>
            <section class="card">
              <h2>Output</h2>
              <JsonView value={data.run.output} source={{ runId: data.run.runId, params: { part: 'output' } }} testId="run-output" />
            </section>
          </div>
          <section class="card">
            <h2>Steps and tasks</h2>
            <table class="steps" data-testid="steps-table">
              <thead>
                <tr>
                  <th>step</th>
                  <th>status</th>
                  <th>tasks</th>
                  <th>started</th>
                  <th>took</th>
                  <th>error or skip reason</th>
                </tr>
              </thead>
              <tbody>
                {data.flow.steps.map((definition) => {
                  const step = data.steps.find((state) => state.slug === definition.slug);
                  return (
                    <tr key={definition.slug} data-step={definition.slug} data-status={step?.status ?? ''}>
                      <td class="mono">
                        {definition.slug}
                        {definition.type === 'map' && <span class="tag-map">map</span>}
                      </td>
                      <td>{step ? <Status status={step.status} /> : '–'}</td>
                      <td>{step?.initialTasks == null ? '–' : `${step.initialTasks - (step.remainingTasks ?? step.initialTasks)}/${step.initialTasks}`}</td>
                      <td>{time(step?.startedAt)}</td>
                      <td>{step ? duration(between(step.startedAt, step.completedAt ?? step.failedAt ?? step.skippedAt ?? step.cancelledAt)) : '–'}</td>
                      <td class={step?.status === 'skipped' ? 'skip-text' : 'error-text'}>{stepNote(step)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            <div class="task-outputs">
              {[...data.tasks].sort((a, b) => stepIndex(a.stepSlug) - stepIndex(b.stepSlug) || a.taskIndex - b.taskIndex).map((task) => (
                <details key={`${task.stepSlug}:${task.taskIndex}`} data-task-output={`${task.stepSlug}:${task.taskIndex}`}>
                  <summary>
                    <span class="mono">
                      {task.stepSlug}
                      {data.flow.steps.find((step) => step.slug === task.stepSlug)?.type === 'map' ? `[${task.taskIndex}]` : ''}
                    </span>{' '}
                    <Status status={task.status} /> {task.attemptsCount > 1 && <span class="muted">{task.attemptsCount} attempts</span>}
                    {task.errorMessage && <span class="error-text"> {task.errorMessage}</span>}
                  </summary>
                  <p class="muted">
                    worker <span class="mono">{task.lastWorkerId ?? '–'}</span> · queued {time(task.queuedAt)} · started {time(task.startedAt)} ·{' '}
                    {task.failedAt ? `failed ${time(task.failedAt)}` : task.cancelledAt ? `cancelled ${time(task.cancelledAt)}` : `completed ${time(task.completedAt)}`}
                  </p>
                  <JsonView value={task.output} source={{ runId: data.run.runId, params: { part: 'task', step: task.stepSlug, task: String(task.taskIndex) } }} />
                </details>
              ))}
            </div>
          </section>
          <section class="card">
            <h2>Events</h2>
            <p class="muted">Recorded from the run's timestamps, then each event as the engine sends it.</p>
            <EventList recorded={recordedEvents(data)} live={events} />
          </section>
        </>
      )}
    </Layout>
  );
}
