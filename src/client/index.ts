/** Starting runs, waiting for them, reading them and following the engine's events. */
export { createClient, PgflowClient, RunWaitTimeoutError, waitForRun, type ClientOptions, type EventFilter, type EventHandler, type Unsubscribe, type WaitOptions } from './client.js';
export { cancelRun, FlowNotFoundError, pauseFlow, resumeFlow, retryRun } from './control.js';
export {
  getRun,
  listRuns,
  readRunOutcome,
  RunCancelledError,
  RunFailedError,
  RunNotFoundError,
  startFlow,
  startFlows,
  type FlowRun,
  type ListRunsOptions,
  type RunDetails,
  type RunId,
  type RunOutcome,
  type StartFlowOptions,
  type TypedRun,
} from './runs.js';
export {
  EVENT_TYPES,
  EVENTS_CHANNEL,
  isFlowEvent,
  parseEvent,
  type FlowEvent,
  type FlowPausedEvent,
  type FlowResumedEvent,
  type PgflowEvent,
  type PgflowEventType,
  type RunCancelledEvent,
  type RunCompletedEvent,
  type RunEvent,
  type RunFailedEvent,
  type RunRetriedEvent,
  type RunStartedEvent,
  type StepCompletedEvent,
  type StepEvent,
  type StepFailedEvent,
  type StepSkippedEvent,
  type StepStartedEvent,
} from '../core/events.js';
export { NotificationListener, type ConnectionSource, type ListenerOptions } from '../core/listener.js';
export { backoffDelay, isConnectionError } from '../core/retry.js';
