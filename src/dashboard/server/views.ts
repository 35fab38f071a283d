/**
 * The four views the front end shows (overview, flow, runs list, run), as
 * the server knows them: how a view is named in a query string, how its data
 * is read, which engine events change it, and how often it is read again
 * without an event (for what changes without one: ages, heartbeats, a retry
 * waiting in the queue). The JSON API and the live updates share these, so a
 * page and its updates always carry the same data.
 */
import type { SqlExecutor } from '../../core/connection.js';
import type { LiveEvent, TimeWindow, ViewName } from '../api-types.js';
import { asReader } from './access.js';
import { badRequest, notFound } from './errors.js';
import { readFlow } from './queries/flow.js';
import { readOverview } from './queries/overview.js';
import { isUuid } from './queries/run-id-bounds.js';
import { checkRunId, readRun } from './queries/run.js';
import { parseRunsQuery, readRunsList, type RunsQuery } from './queries/runs-list.js';

export type ViewSpec =
  | { view: 'overview'; window: TimeWindow }
  | { view: 'flow'; flow: string; run: string | null }
  | { view: 'runs'; query: RunsQuery }
  | { view: 'run'; run: string };

export function parseWindow(value: string | null): TimeWindow {
  if (value === null || value === '' || value === 'hour') return 'hour';
  if (value === 'day') return 'day';
  throw badRequest(`window must be hour or day (got "${value}")`);
}

function selectedRun(value: string | null): string | null {
  if (value === null || value === '') return null;
  if (!isUuid(value)) throw badRequest(`run must be a run id (got "${value}")`);
  return value.toLowerCase();
}

/** The view a live connection asks for: `view=<name>` and that view's own parameters. */
export function parseViewSpec(params: URLSearchParams): ViewSpec {
  const view = params.get('view') as ViewName | null;
  switch (view) {
    case 'overview':
      return { view, window: parseWindow(params.get('window')) };
    case 'flow': {
      const flow = params.get('flow');
      if (!flow) throw badRequest('a flow view needs flow=<flow slug>');
      return { view, flow, run: selectedRun(params.get('run')) };
    }
    case 'runs':
      return { view, query: parseRunsQuery(params) };
    case 'run':
      return { view, run: checkRunId(params.get('run') ?? '') };
    default:
      throw badRequest(`view must be overview, flow, runs or run (got "${view ?? ''}")`);
  }
}

/** One key per distinct view, so viewers of the same page share one read. */
export function viewKey(spec: ViewSpec): string {
  switch (spec.view) {
    case 'overview':
      return `overview:${spec.window}`;
    case 'flow':
      return `flow:${spec.flow}:${spec.run ?? ''}`;
    case 'runs':
      return `runs:${JSON.stringify(spec.query)}`;
    case 'run':
      return `run:${spec.run}`;
  }
}

/**
 * Reads the view's data; a flow or run that does not exist is a 404, a role without pgflow's reader
 * level a 403 that says so.
 */
export function loadView(db: SqlExecutor, spec: ViewSpec): Promise<unknown> {
  return asReader(db, () => readView(db, spec));
}

async function readView(db: SqlExecutor, spec: ViewSpec): Promise<unknown> {
  switch (spec.view) {
    case 'overview':
      return readOverview(db, spec.window);
    case 'flow': {
      const data = await readFlow(db, spec.flow, spec.run);
      if (!data) throw notFound(`there is no flow "${spec.flow}"`);
      return data;
    }
    case 'runs':
      return readRunsList(db, spec.query);
    case 'run':
      return readRun(db, spec.run);
  }
}

const isRunEvent = (event: LiveEvent) => event.type.startsWith('run:');
/** `flow:paused`, `flow:resumed`: about a flow, not a run. */
const isFlowEvent = (event: LiveEvent) => event.type.startsWith('flow:');

/** Whether an engine event can change the view. */
export function viewChangedBy(spec: ViewSpec, event: LiveEvent): boolean {
  switch (spec.view) {
    case 'overview':
      return true;
    case 'flow':
      return event.flowSlug === spec.flow && (isRunEvent(event) || isFlowEvent(event) || (event.runId !== null && event.runId === spec.run));
    case 'runs':
      return isRunEvent(event) && (spec.query.flow === null || spec.query.flow === event.flowSlug);
    case 'run':
      // The run page also shows whether its flow is paused; flow events are rare, so any of them reads it again.
      return event.runId === spec.run || isFlowEvent(event);
  }
}

/** Whether the view's viewers also get the event itself: the run page lists its run's events as they arrive. */
export function viewRelaysEvent(spec: ViewSpec, event: LiveEvent): boolean {
  if (spec.view === 'run') return event.runId === spec.run;
  if (spec.view === 'flow') return spec.run !== null && event.runId === spec.run;
  return false;
}

/**
 * Milliseconds between reads without an event (null: only on events). The overview shows ages and
 * heartbeats; a run in progress can retry a task, which sends no event.
 */
export function refreshInterval(spec: ViewSpec, data: unknown): number | null {
  if (spec.view === 'overview') return 5_000;
  if (spec.view === 'run') return (data as { run?: { status?: string } } | null)?.run?.status === 'started' ? 2_000 : null;
  if (spec.view === 'flow' && spec.run !== null) return (data as { selectedRun?: { run?: { status?: string } } } | null)?.selectedRun?.run?.status === 'started' ? 2_000 : null;
  return null;
}

/** Smallest gap between two reads of one view while events keep arriving. */
export function minimumGap(spec: ViewSpec): number {
  // An input search looks at up to 10,000 runs per read.
  if (spec.view === 'runs' && spec.query.contains !== null) return 2_000;
  return 250;
}
