/**
 * The overview: each flow with its runs over the last hour or day (completed,
 * failed, cancelled), runs in progress, failure rate, tasks per second and
 * queue depth, and a badge when it is paused; then the live and stale
 * workers.
 */
import { useLocation } from 'preact-iso';
import type { FlowOverview, OverviewData, TimeWindow, WorkerInfo } from '../../../api-types';
import { Layout, Loading, Problem } from '../components/Layout';
import { RunsChart } from '../components/RunsChart';
import { href } from '../config';
import { count, duration, percent, time } from '../format';
import { useLiveView } from '../live';

function FlowCard({ flow, data }: { flow: FlowOverview; data: OverviewData }) {
  const runsHref = (status?: string) => href(`/runs?${new URLSearchParams({ flow: flow.slug, ...(status ? { status } : {}) })}`);
  const total = Object.values(flow.windowCounts).reduce((sum, value) => sum + value, 0);
  return (
    <section class="card flow-card" data-flow={flow.slug}>
      <h2>
        <a href={href(`/flows/${encodeURIComponent(flow.slug)}`)}>{flow.slug}</a>
        <span class="muted"> · {flow.steps} steps</span>
        {flow.pausedAt && (
          <span class="badge-paused" data-stat="paused" title={`paused since ${time(flow.pausedAt)}: workers start none of its tasks`}>
            paused
          </span>
        )}
      </h2>
      <RunsChart chart={flow.chart} buckets={data.buckets} bucketSeconds={data.bucketSeconds} />
      <dl class="stats">
        <div>
          <dt>running</dt>
          <dd>
            <a href={runsHref('started')} data-stat="running">
              {count(flow.running)}
            </a>
          </dd>
        </div>
        <div>
          <dt>started this {data.window}</dt>
          <dd data-stat="window-total">{count(total)}</dd>
        </div>
        <div>
          <dt>completed</dt>
          <dd>
            <a href={runsHref('completed')} data-stat="completed">
              {count(flow.windowCounts.completed ?? 0)}
            </a>
          </dd>
        </div>
        <div>
          <dt>failed</dt>
          <dd>
            <a href={runsHref('failed')} class={(flow.windowCounts.failed ?? 0) > 0 ? 'bad' : ''} data-stat="failed">
              {count(flow.windowCounts.failed ?? 0)}
            </a>
          </dd>
        </div>
        <div>
          <dt>cancelled</dt>
          <dd>
            <a href={runsHref('cancelled')} data-stat="cancelled">
              {count(flow.windowCounts.cancelled ?? 0)}
            </a>
          </dd>
        </div>
        <div>
          <dt>failure rate</dt>
          <dd data-stat="failure-rate">{percent(flow.failureRate)}</dd>
        </div>
        <div>
          <dt>tasks/s (last min)</dt>
          <dd data-stat="tasks-per-second">{flow.tasksPerSecond === null ? '–' : flow.tasksPerSecond.toFixed(flow.tasksPerSecond < 10 ? 2 : 0)}</dd>
        </div>
      </dl>
      {flow.queue ? (
        <dl class="stats queue">
          <div>
            <dt>queue: visible</dt>
            <dd data-stat="queue-visible">{count(flow.queue.visible)}</dd>
          </div>
          <div>
            <dt>in flight</dt>
            <dd data-stat="queue-in-flight">{count(flow.queue.inFlight)}</dd>
          </div>
          <div>
            <dt>delayed</dt>
            <dd data-stat="queue-delayed">{count(flow.queue.delayed)}</dd>
          </div>
          <div>
            <dt>oldest visible</dt>
            <dd data-stat="queue-oldest">{flow.queue.oldestVisibleSeconds === null ? '–' : duration(flow.queue.oldestVisibleSeconds * 1000)}</dd>
          </div>
        </dl>
      ) : (
        <p class="muted">This flow has no queue table.</p>
      )}
    </section>
  );
}

function WorkerRows({ workers, state }: { workers: WorkerInfo[]; state: 'live' | 'stale' }) {
  return (
    <>
      {workers.map((worker) => (
        <tr key={worker.workerId} class={`worker-${state}`} data-worker={worker.workerId}>
          <td>
            <span class={`status status-${state === 'live' ? 'completed' : 'failed'}`}>{state}</span>
          </td>
          <td class="mono">{worker.workerId}</td>
          <td>{worker.queueName}</td>
          <td>{worker.functionName}</td>
          <td title={time(worker.startedAt)}>{time(worker.startedAt)}</td>
          <td title={time(worker.lastHeartbeatAt)}>{duration(worker.heartbeatAgeSeconds * 1000)} ago</td>
        </tr>
      ))}
    </>
  );
}

export function Overview() {
  const { query, route } = useLocation();
  const window: TimeWindow = query.window === 'day' ? 'day' : 'hour';
  const params = new URLSearchParams({ window });
  const view = useLiveView<OverviewData>('/overview', params, new URLSearchParams({ view: 'overview', window }));
  const { data, error } = view;
  const setWindow = (next: TimeWindow) => route(href(next === 'hour' ? '/' : `/?window=${next}`));
  return (
    <Layout title="Overview" live={view.live}>
      <div class="heading">
        <h1>Overview</h1>
        <div class="toggle" role="group" aria-label="time window">
          <button type="button" class={window === 'hour' ? 'on' : ''} onClick={() => setWindow('hour')}>
            last hour
          </button>
          <button type="button" class={window === 'day' ? 'on' : ''} onClick={() => setWindow('day')}>
            last day
          </button>
        </div>
      </div>
      {error && <Problem status={error.status} message={error.message} />}
      {!data && !error && <Loading />}
      {data && data.pgflow.installed === null && <Problem status={503} message="pgflow is not installed in this database: install it with `npx pgflow-orm migrate` or your migrator." />}
      {data && data.pgflow.installed !== null && (
        <>
          <p class="muted">
            pgflow {data.pgflow.installed}
            {data.pgflow.installed !== data.pgflow.supported && ` (this pgflow-orm works with ${data.pgflow.supported})`} · {data.flows.length} flows · runs by the time they started, coloured by
            their status now
          </p>
          {data.flows.length === 0 && <p>No flows yet.</p>}
          <div class="cards">
            {data.flows.map((flow) => (
              <FlowCard key={flow.slug} flow={flow} data={data} />
            ))}
          </div>
          <section class="card workers" data-testid="workers">
            <h2>
              Workers <span class="muted">· {data.workers.live.length} live, {data.workers.stale.length} stale (no heartbeat for more than {data.workers.staleAfterSeconds} s)</span>
            </h2>
            {data.workers.live.length + data.workers.stale.length === 0 ? (
              <p class="muted">No running workers.</p>
            ) : (
              <table>
                <thead>
                  <tr>
                    <th>state</th>
                    <th>worker id</th>
                    <th>queue</th>
                    <th>function</th>
                    <th>started</th>
                    <th>last heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  <WorkerRows workers={data.workers.live} state="live" />
                  <WorkerRows workers={data.workers.stale} state="stale" />
                </tbody>
              </table>
            )}
            {data.workers.notListed > 0 && <p class="muted">… and {data.workers.notListed} more.</p>}
          </section>
        </>
      )}
    </Layout>
  );
}
