/**
 * The JSON the dashboard's server sends its front end: one shape per view
 * (overview, flow, runs list, run) plus the live messages. Shared by the
 * server (src/dashboard/server) and the browser code (src/dashboard/ui), so
 * both sides agree at compile time. Types only: nothing here runs.
 *
 * Times are ISO 8601 strings. Statuses are plain strings: runs are
 * `started`, `completed`, `failed` or `cancelled`; step states `created`,
 * `started`, `completed`, `failed`, `skipped` or `cancelled`; tasks `queued`,
 * `started`, `completed`, `failed` or `cancelled`; a status a newer engine
 * adds passes through unchanged. Columns an older pgflow install lacks
 * (cancellation, pauses, skips) are read as null.
 */

/** A JSON value cut to a readable size: `text` is pretty-printed JSON, at most `TRUNCATE_AT` characters. */
export interface JsonPreview {
  text: string;
  /** True when `text` is only the beginning; the whole value is served by the value endpoint. */
  truncated: boolean;
  /** Length of the whole pretty-printed value, in characters. */
  length: number;
}

/** What the page needs before any data: set by the server in the page's `<meta name="pgflow-dashboard">`. */
export interface DashboardConfig {
  /** The mount path without a trailing slash ('' at the root). */
  basePath: string;
  /** The token POST requests carry in the `x-pgflow-csrf` header. */
  csrfToken: string;
  /** Whether the handler was created with `allowActions`. */
  actionsEnabled: boolean;
  /** The package version of the server. */
  version: string;
}

export interface PgflowInfo {
  /** `pgflow.version()`, null when pgflow is not installed. */
  installed: string | null;
  /** The version this pgflow-orm works with. */
  supported: string;
}

export type TimeWindow = 'hour' | 'day';

export interface RunCountsByStatus {
  /** Keyed by run status (`started`, `completed`, `failed`, `cancelled`, and any status a newer engine adds). */
  [status: string]: number;
}

export interface QueueStats {
  /** Messages a worker can read now. */
  visible: number;
  /** Messages of started tasks (hidden while a worker runs them). */
  inFlight: number;
  /** Messages waiting for a retry's backoff or a start delay. */
  delayed: number;
  /** Age of the oldest visible message, in seconds; null when none is visible. */
  oldestVisibleSeconds: number | null;
}

export interface FlowOverview {
  slug: string;
  steps: number;
  /** When the flow was paused (pgflow.pause_flow): workers start none of its tasks until it is resumed. */
  pausedAt: string | null;
  /** Runs with status `started`, whenever they started. */
  running: number;
  /** Runs started within the window, by their current status. */
  windowCounts: RunCountsByStatus;
  /** One entry per bucket of `OverviewData.buckets`: runs started in it, by current status. */
  chart: RunCountsByStatus[];
  /**
   * Failed ÷ (completed + failed) runs started within the window; null when none finished. Cancelled
   * runs were stopped on purpose and count as neither.
   */
  failureRate: number | null;
  /** Tasks completed per second over the last minute (from the queue's archive). */
  tasksPerSecond: number | null;
  /** null when the flow has no queue table. */
  queue: QueueStats | null;
}

export interface WorkerInfo {
  workerId: string;
  queueName: string;
  functionName: string;
  startedAt: string;
  lastHeartbeatAt: string;
  /** Seconds since the last heartbeat, measured by the database. */
  heartbeatAgeSeconds: number;
}

export interface OverviewData {
  generatedAt: string;
  pgflow: PgflowInfo;
  window: TimeWindow;
  /** Start of each chart bucket, oldest first; each lasts `bucketSeconds`. */
  buckets: string[];
  bucketSeconds: number;
  flows: FlowOverview[];
  workers: {
    staleAfterSeconds: number;
    live: WorkerInfo[];
    stale: WorkerInfo[];
    /** Live and stale workers not listed (the lists are capped). */
    notListed: number;
  };
}

export interface StepDefinition {
  slug: string;
  /** `single` or `map` (and whatever a newer engine adds). */
  type: string;
  index: number;
  /** The steps this one depends on. */
  dependsOn: string[];
  options: {
    maxAttempts: number | null;
    baseDelay: number | null;
    timeout: number | null;
    startDelay: number | null;
  };
  /**
   * The step's condition and what happens when it is not met or its task fails its last attempt
   * (see `pgflow.add_step`); null on a database whose pgflow has no conditions.
   */
  condition: {
    /** Run only when the step's input contains this JSON. */
    requiredInputPattern: unknown;
    /** Run only when the step's input does not contain this JSON. */
    forbiddenInputPattern: unknown;
    /** `skip`, `skip-cascade` or `fail`. */
    whenUnmet: string;
    /** `fail`, `skip` or `skip-cascade`. */
    whenExhausted: string;
  } | null;
}

export interface FlowDefinition {
  slug: string;
  options: { maxAttempts: number; baseDelay: number; timeout: number };
  createdAt: string;
  /** When the flow was paused; null while it runs. */
  pausedAt: string | null;
  steps: StepDefinition[];
}

export interface RunSummary {
  runId: string;
  flowSlug: string;
  status: string;
  startedAt: string;
  completedAt: string | null;
  failedAt: string | null;
  cancelledAt: string | null;
  remainingSteps: number;
}

/** Why a step was skipped: `condition_unmet`, `handler_failed` (its task failed its last attempt) or `dependency_skipped`. */
export type SkipReasonText = string;

export interface StepStatusSummary {
  slug: string;
  status: string;
  remainingTasks: number | null;
  initialTasks: number | null;
  /** Set when the step is `skipped`. */
  skipReason: SkipReasonText | null;
}

export interface FlowData {
  flow: FlowDefinition;
  /** The newest runs of the flow, newest first. */
  recentRuns: RunSummary[];
  /** The selected run's step statuses (`?run=`), null when none is selected. */
  selectedRun: { run: RunSummary; steps: StepStatusSummary[] } | null;
}

export interface RunsFilter {
  flow?: string;
  status?: string;
  /** ISO times: runs started at or after `from`, before `to`. */
  from?: string;
  to?: string;
  /** A run id, or a JSON object the run's input must contain. */
  q?: string;
  /** Keyset cursor: only runs whose id sorts before this one. */
  before?: string;
  limit?: number;
}

export interface RunsListData {
  runs: RunSummary[];
  /** Cursor of the next (older) page, null on the last page. */
  next: string | null;
  /** For an input search: how many runs this page looked at (the search is bounded per page). */
  scanned: number | null;
}

export interface StepStateDetail {
  slug: string;
  status: string;
  remainingTasks: number | null;
  remainingDeps: number;
  initialTasks: number | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  failedAt: string | null;
  skippedAt: string | null;
  /** Set when the step is `skipped`. */
  skipReason: SkipReasonText | null;
  cancelledAt: string | null;
  /** The step's error; for a step skipped after its task failed, that task's last error. */
  errorMessage: string | null;
}

export interface TaskDetail {
  stepSlug: string;
  taskIndex: number;
  status: string;
  attemptsCount: number;
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  failedAt: string | null;
  cancelledAt: string | null;
  errorMessage: string | null;
  lastWorkerId: string | null;
  output: JsonPreview | null;
  /** For a queued task whose message is hidden (a retry's backoff, a start delay): when it becomes visible. */
  visibleAt: string | null;
}

export interface RunDetailData {
  run: RunSummary & { input: JsonPreview; output: JsonPreview | null; cancelReason: string | null };
  flow: FlowDefinition;
  steps: StepStateDetail[];
  tasks: TaskDetail[];
  /** Tasks not included because a step has more than the page shows (map steps), by step slug. */
  tasksNotShown: Record<string, number>;
  /** The database's clock when the snapshot was read. */
  now: string;
}

export interface ActionInfo {
  /** e.g. `cancel-run`. */
  name: string;
  label: string;
  /** What the action applies to. */
  target: 'run' | 'flow';
  /**
   * The states of the target the action applies to: run statuses (`started` for cancel,
   * `failed` and `cancelled` for retry), or `running` / `paused` for a flow.
   */
  appliesTo: string[];
  /** The SQL function it calls, e.g. `pgflow.cancel_run(uuid, text)`. */
  sqlFunction: string;
  /** Whether the function exists in this database and the dashboard's database role may call it. */
  available: boolean;
  /** Why the action is not available (null when it is). */
  unavailableReason: string | null;
}

export interface ActionsData {
  /** Whether the handler was created with `allowActions`. */
  enabled: boolean;
  actions: ActionInfo[];
}

/** What an action's POST answers: the target as the engine left it. */
export type ActionResult =
  | { ok: true; result: { runId: string; status: string } }
  | { ok: true; result: { flowSlug: string; pausedAt: string | null } };

/** An engine event as relayed to the browser. */
export interface LiveEvent {
  /** `run:started`, `step:skipped`, `run:cancelled`, `flow:paused`, … as the engine names it. */
  type: string;
  flowSlug: string;
  /** null for an event about a flow (`flow:paused`, `flow:resumed`). */
  runId: string | null;
  stepSlug: string | null;
  status: string | null;
  errorMessage: string | null;
  /** `step:skipped`: why. */
  skipReason: SkipReasonText | null;
  /** `run:cancelled`: the reason given to pgflow.cancel_run. */
  reason: string | null;
  /** When the engine sent it. */
  at: string;
}

export type ViewName = 'overview' | 'flow' | 'runs' | 'run';

/** The value endpoint's answer: a whole JSON value, pretty-printed. */
export interface JsonValueData {
  text: string;
}

export interface ErrorData {
  error: string;
}
