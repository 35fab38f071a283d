/**
 * A flow: its DAG, its steps' options, and its newest runs; a badge while it
 * is paused. Picking a run (`?run=<id>`) colours the graph by that run's step
 * statuses, live. Pause and resume are offered when the dashboard allows
 * actions.
 */
import { useLocation, useRoute } from 'preact-iso';
import type { FlowData, StepDefinition, StepStatusSummary } from '../../../api-types';
import { Actions } from '../components/Actions';
import { FlowGraph, type StepStatusView } from '../components/FlowGraph';
import { Layout, Loading, Problem } from '../components/Layout';
import { Status } from '../components/Status';
import { href } from '../config';
import { time } from '../format';
import { useLiveView } from '../live';

const byStep = (steps: StepStatusSummary[]): Record<string, StepStatusView> => Object.fromEntries(steps.map((step) => [step.slug, step]));

/** A step's condition in short: `if {…}`, `unless {…}`, and what happens otherwise. */
function conditionText(step: StepDefinition): string {
  const condition = step.condition;
  if (!condition) return '–';
  const parts: string[] = [];
  if (condition.requiredInputPattern != null) parts.push(`if ${JSON.stringify(condition.requiredInputPattern)}`);
  if (condition.forbiddenInputPattern != null) parts.push(`unless ${JSON.stringify(condition.forbiddenInputPattern)}`);
  if (parts.length > 0) parts.push(`else ${condition.whenUnmet}`);
  if (condition.whenExhausted !== 'fail') parts.push(`on failure ${condition.whenExhausted}`);
  return parts.join(', ') || '–';
}

export function FlowPage() {
  const { params } = useRoute();
  const { query } = useLocation();
  const slug = params.slug ?? '';
  const run = query.run ?? '';
  const apiParams = new URLSearchParams(run ? { run } : {});
  const view = useLiveView<FlowData>(`/flows/${encodeURIComponent(slug)}`, apiParams, new URLSearchParams({ view: 'flow', flow: slug, ...(run ? { run } : {}) }));
  const { data, error } = view;
  const flowHref = (runId?: string) => href(`/flows/${encodeURIComponent(slug)}${runId ? `?run=${encodeURIComponent(runId)}` : ''}`);
  return (
    <Layout title={`Flow ${slug}`} live={view.live}>
      <div class="heading">
        <h1>
          Flow <span class="mono" data-testid="flow-slug">{slug}</span>
        </h1>
        {data?.flow.pausedAt && (
          <span class="badge-paused" data-testid="flow-paused" title={`paused since ${time(data.flow.pausedAt)}`}>
            paused
          </span>
        )}
        {data && <Actions target="flow" id={data.flow.slug} label={`flow ${data.flow.slug}`} state={data.flow.pausedAt ? 'paused' : 'running'} />}
      </div>
      {error && <Problem status={error.status} message={error.message} />}
      {!data && !error && <Loading />}
      {data && (
        <>
          <p class="muted">
            {data.flow.steps.length} steps · max attempts {data.flow.options.maxAttempts}, base delay {data.flow.options.baseDelay} s, timeout {data.flow.options.timeout} s · created{' '}
            {time(data.flow.createdAt)} · <a href={href(`/runs?flow=${encodeURIComponent(slug)}`)}>all runs of this flow</a>
          </p>
          {data.flow.pausedAt && (
            <p class="paused-note">
              Paused since {time(data.flow.pausedAt)}: workers start none of its tasks until it is resumed (tasks already running finish; new runs are accepted and wait).
            </p>
          )}
          {data.selectedRun ? (
            <p class="selected-run" data-testid="selected-run">
              Coloured by run <a href={href(`/runs/${data.selectedRun.run.runId}`)} class="mono">{data.selectedRun.run.runId}</a> <Status status={data.selectedRun.run.status} />{' '}
              <a href={flowHref()}>clear</a>
            </p>
          ) : (
            run && <Problem status={404} message={`run ${run} is not a run of flow ${slug}`} />
          )}
          <FlowGraph flow={data.flow} statuses={data.selectedRun ? byStep(data.selectedRun.steps) : undefined} />
          <div class="columns">
            <section class="card">
              <h2>Newest runs</h2>
              {data.recentRuns.length === 0 ? (
                <p class="muted">No runs yet.</p>
              ) : (
                <ul class="run-picker">
                  {data.recentRuns.map((recent) => (
                    <li key={recent.runId} class={recent.runId === data.selectedRun?.run.runId ? 'on' : ''}>
                      <a href={flowHref(recent.runId)} class="mono" data-run={recent.runId}>
                        {recent.runId}
                      </a>{' '}
                      <Status status={recent.status} /> <span class="muted">{time(recent.startedAt)}</span>
                    </li>
                  ))}
                </ul>
              )}
            </section>
            <section class="card">
              <h2>Steps</h2>
              <table>
                <thead>
                  <tr>
                    <th>step</th>
                    <th>type</th>
                    <th>depends on</th>
                    <th>max attempts</th>
                    <th>base delay</th>
                    <th>timeout</th>
                    <th>start delay</th>
                    <th>condition</th>
                  </tr>
                </thead>
                <tbody>
                  {data.flow.steps.map((step) => (
                    <tr key={step.slug} data-step={step.slug}>
                      <td class="mono">{step.slug}</td>
                      <td>{step.type}</td>
                      <td>{step.dependsOn.join(', ') || '–'}</td>
                      <td>{step.options.maxAttempts ?? <span class="muted">{data.flow.options.maxAttempts}</span>}</td>
                      <td>{step.options.baseDelay === null ? <span class="muted">{data.flow.options.baseDelay} s</span> : `${step.options.baseDelay} s`}</td>
                      <td>{step.options.timeout === null ? <span class="muted">{data.flow.options.timeout} s</span> : `${step.options.timeout} s`}</td>
                      <td>{step.options.startDelay === null ? '–' : `${step.options.startDelay} s`}</td>
                      <td class="mono">{conditionText(step)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          </div>
        </>
      )}
    </Layout>
  );
}
