/**
 * The runs list: filtered by flow, status, start time and run id or input
 * (a JSON object the input contains), newest first, a page at a time
 * ("older" follows a keyset cursor). The first page updates live.
 */
import { useLocation } from 'preact-iso';
import { useState } from 'preact/hooks';
import type { RunsListData } from '../../../api-types';
import { Layout, Loading, Problem } from '../components/Layout';
import { Status } from '../components/Status';
import { href } from '../config';
import { between, count, duration, runEnd, time } from '../format';
import { useLiveView } from '../live';

const FILTERS = ['flow', 'status', 'from', 'to', 'q'] as const;

/** `2026-01-31T14:03` (a datetime-local value, local time) ↔ ISO. */
const toLocalInput = (iso: string | undefined) => {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return new Date(date.getTime() - date.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (value: string) => (value ? new Date(value).toISOString() : '');

export function RunsPage() {
  const { query, route } = useLocation();
  const filters = Object.fromEntries(FILTERS.filter((name) => query[name]).map((name) => [name, query[name]!]));
  const before = query.before ?? '';
  const params = new URLSearchParams({ ...filters, ...(before ? { before } : {}) });
  const live = before ? null : new URLSearchParams({ view: 'runs', ...filters });
  const view = useLiveView<RunsListData>('/runs', params, live);
  const { data, error } = view;
  const [form, setForm] = useState<Record<string, string>>({ ...filters, from: toLocalInput(filters.from), to: toLocalInput(filters.to) });
  const submit = (event: Event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form[name]?.trim();
      if (value) next.set(name, name === 'from' || name === 'to' ? fromLocalInput(value) : value);
    }
    route(href(`/runs${next.size > 0 ? `?${next}` : ''}`));
  };
  const field = (name: (typeof FILTERS)[number]) => ({
    value: form[name] ?? '',
    onInput: (event: Event) => setForm({ ...form, [name]: (event.target as HTMLInputElement).value }),
    name,
  });
  const pageHref = (cursor: string | null) => href(`/runs?${new URLSearchParams({ ...filters, ...(cursor ? { before: cursor } : {}) })}`);
  return (
    <Layout title="Runs" live={live ? view.live : undefined}>
      <div class="heading">
        <h1>Runs</h1>
      </div>
      <form class="filters" onSubmit={submit} data-testid="runs-filter">
        <label>
          flow <input {...field('flow')} placeholder="any" size={18} />
        </label>
        <label>
          status{' '}
          <select {...field('status')} onChange={(event) => setForm({ ...form, status: (event.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            <option value="started">started</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <label>
          started from <input type="datetime-local" {...field('from')} />
        </label>
        <label>
          to <input type="datetime-local" {...field('to')} />
        </label>
        <label class="grow">
          run id or input <input {...field('q')} placeholder='a run id, or {"orderId": "ord-1"}' />
        </label>
        <button type="submit">Filter</button>
        {Object.keys(filters).length > 0 && <a href={href('/runs')}>clear</a>}
      </form>
      {error && <Problem status={error.status} message={error.message} />}
      {!data && !error && <Loading />}
      {data && (
        <>
          {data.scanned !== null && (
            <p class="muted">
              The input search looked at {count(data.scanned)} runs{data.next ? ' on this page; older runs are searched on the next page' : ''}.
            </p>
          )}
          <table class="runs" data-testid="runs-table">
            <thead>
              <tr>
                <th>run id</th>
                <th>flow</th>
                <th>status</th>
                <th>started</th>
                <th>duration</th>
                <th>steps left</th>
              </tr>
            </thead>
            <tbody>
              {data.runs.map((run) => (
                <tr key={run.runId} data-run={run.runId} data-status={run.status}>
                  <td>
                    <a class="mono" href={href(`/runs/${run.runId}`)}>
                      {run.runId}
                    </a>
                  </td>
                  <td>
                    <a href={href(`/flows/${encodeURIComponent(run.flowSlug)}`)}>{run.flowSlug}</a>
                  </td>
                  <td>
                    <Status status={run.status} />
                  </td>
                  <td>{time(run.startedAt)}</td>
                  <td>{runEnd(run) ? duration(between(run.startedAt, runEnd(run))) : <span class="muted">running</span>}</td>
                  <td>{run.status === 'started' ? run.remainingSteps : '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.runs.length === 0 && <p class="muted">No runs match.</p>}
          <nav class="pager">
            {before && <a href={pageHref(null)}>← newest</a>}
            {data.next && (
              <a href={pageHref(data.next)} data-testid="older">
                older →
              </a>
            )}
          </nav>
        </>
      )}
    </Layout>
  );
}
