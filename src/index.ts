/**
 * pgflow-orm: a PostgreSQL-native DAG workflow engine (the pgflow 0.8.1 SQL
 * API), installed by the app's own migrator and queried with typed builders.
 *
 * The public surface, listed by name (test/surface pins it): the flow DSL,
 * the worker, the client, the scheduler, retention, the typed SQL API,
 * version and access checks, their errors, and the row and status types.
 * Everything else in src/ is internal.
 */

// The flow DSL and putting flows in the database.
export {
  Flow,
  FlowDefinitionError,
  type AnyFlow,
  type FlowInput,
  type FlowOutput,
  type LeafSteps,
  type SkippableSteps,
  type StepHandler,
  type StepInput,
  type StepOutput,
} from './flow/flow.js';
export type { StepContext } from './flow/context.js';
export { JsonValueError } from './flow/json.js';
export { isValidSlug } from './flow/slug.js';
export { consoleLogger, silentLogger, type Logger } from './flow/logger.js';
export { compileFlow, compileFlowScript } from './flow/compile.js';
export { ensureFlow, FlowDriftError, type EnsureFlowOptions, type EnsureFlowResult } from './flow/ensure.js';

// The worker.
export { startWorker, StepTimeoutError, WorkerShutdownError, type WorkerHandle, type WorkerOptions, type WorkerStats } from './worker/worker.js';
export { runWorker } from './worker/signals.js';

// The client: starting, waiting for, reading and operating runs; events.
export { createClient, PgflowClient, waitForRun, type ClientOptions } from './client/client.js';
export { RunWaitTimeoutError, type WaitOptions } from './client/wait.js';
export type { EventFilter, EventHandler, Unsubscribe } from './client/channels.js';
export { cancelRun, FlowNotFoundError, pauseFlow, resumeFlow, retryRun } from './client/control.js';
export { getRun, listRuns, startFlow, type FlowRun, type ListRunsOptions, type RunDetails, type RunId, type StartFlowOptions, type TypedRun } from './client/runs.js';
export { RunCancelledError, RunFailedError, RunNotFoundError } from './core/errors.js';
export { EVENTS_CHANNEL, isFlowEvent, parseEvent, type PgflowEvent, type PgflowEventType } from './core/events.js';

// Schedules and retention.
export { startScheduler, type SchedulerHandle, type SchedulerOptions } from './scheduler/scheduler.js';
export { CronError } from './scheduler/cron.js';
export { countPrunable, pruneRuns, type PruneOptions, type PruneTotals } from './retention/prune.js';

// The engine's SQL functions, typed; checks and their errors.
export { PgflowSql, pgflowSql } from './core/sql-api.js';
export type { QueueDepth } from './core/queue-depth.js';
export type { PgflowConnection } from './core/connection.js';
export { PgflowArgumentError } from './core/arguments.js';
export { assertCompatibleSchema, compareVersions, PgflowSchemaVersionError, supportedSchemaVersion } from './core/version.js';
export { grantStatement, PgflowAccessError } from './core/access.js';

// Rows and statuses.
export type {
  AccessLevel,
  ClaimedTask,
  DepRow,
  FlowRow,
  Json,
  RoleAccessRow,
  RunRow,
  RunStatus,
  ScheduleRow,
  ScheduleTickRow,
  SkipMode,
  SkipReason,
  StepRow,
  StepStateRow,
  StepStatus,
  StepTaskRecord,
  StepTaskRow,
  StepType,
  TaskStatus,
  WorkerRow,
} from './core/types.js';
/** The earlier names of the row types, kept so existing code compiles. */
export type { Dep, FlowRecord, RoleAccess, Run, Schedule, ScheduleTick, StepRecord, StepState, StepTask, Worker } from './core/types.js';
