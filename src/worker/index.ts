/** The worker: runs step handlers of flows against the engine. */
export { startWorker, StepTimeoutError, WorkerShutdownError, type WorkerHandle, type WorkerOptions, type WorkerStats } from './worker.js';
export { handleShutdownSignals, runWorker, type ShutdownSignalOptions } from './signals.js';
export { derivedWorkerId, workerIdsFor } from './ids.js';
