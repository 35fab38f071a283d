/**
 * Runs one step handler for one claimed task (one attempt), and reports how
 * the attempt ended exactly once.
 *
 * A map step's tasks run like any other, one handler call per array element:
 * the handler's input is the element and `context.taskIndex` its index. The
 * handler gets an AbortSignal that fires at the step's timeout (the attempt
 * then fails with a StepTimeoutError at once; a handler that ignores the
 * signal keeps running, but its result is discarded); the worker also aborts
 * it when the task's run is cancelled and when shutdown's grace period is
 * over. An output that is not JSON, or an `.array()` step's output that is
 * not an array, fails the attempt (retried like any failure).
 */
import { errorMessage } from '../core/retry.js';
import type { StepContext } from '../flow/context.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/ensure.js';
import type { AnyFlow, StepDefinition } from '../flow/flow.js';
import { assertJsonSerialisable } from '../flow/json.js';
import { childLogger, type Logger } from '../flow/logger.js';
import type { TaskRef } from './reporter.js';

/**
 * The reason a handler's signal aborts at its step's timeout.
 *
 * @example
 * ```ts
 * import { Flow, StepTimeoutError } from 'pgflow-orm';
 *
 * export const pages = new Flow<{ url: string }>({ slug: 'pages', timeout: 10 }).step({ slug: 'fetch' }, async ({ run }, { signal }) => {
 *   try {
 *     return await (await fetch(run.url, { signal })).text();
 *   } catch (error) {
 *     if (signal.reason instanceof StepTimeoutError) throw new Error(`${run.url} took longer than 10 s`);
 *     throw error;
 *   }
 * });
 * ```
 */
export class StepTimeoutError extends Error {
  constructor(
    readonly stepSlug: string,
    readonly timeoutSeconds: number,
  ) {
    super(`step "${stepSlug}" timed out after ${timeoutSeconds} s`);
    this.name = 'StepTimeoutError';
  }
}

/** One attempt of a claimed task. */
export interface TaskAttempt {
  flow: AnyFlow;
  runId: string;
  stepSlug: string;
  taskIndex: number;
  input: unknown;
  /** 1 for the first attempt (the task's attempts_count once started). */
  attempt: number;
}

/** How an attempt ended: the output to store, or the error message to fail it with. */
export type AttemptOutcome = { output: unknown } | { error: string };

/** A handler that has started and not yet ended its attempt. */
export interface RunningTask {
  ref: TaskRef;
  controller: AbortController;
  /** Its run was cancelled: the engine ignores what it reports. */
  cancelled: boolean;
  settled: Promise<void>;
  /** Forget the handler: whatever it does later is ignored. */
  abandon(): void;
}

export interface HandlerCallbacks {
  /** The task is about to run (called first, before the handler is called). */
  started(task: RunningTask): void;
  /** Its attempt ended (called once, and not at all once the task was abandoned). */
  finished(task: RunningTask, outcome: AttemptOutcome): void;
}

/** The longest delay setTimeout takes; a longer one would fire at once. */
const MAX_TIMER_MS = 2_147_483_647;

/** setTimeout for any delay: a step timeout may be up to 2^31 - 1 seconds, far beyond setTimeout's limit. */
function longTimeout(callback: () => void, ms: number): { clear(): void } {
  let timer: NodeJS.Timeout;
  const arm = (left: number) => {
    timer = setTimeout(() => (left > MAX_TIMER_MS ? arm(left - MAX_TIMER_MS) : callback()), Math.min(left, MAX_TIMER_MS));
  };
  arm(ms);
  return { clear: () => clearTimeout(timer) };
}

/** Starts the handler of the attempt's step; `callbacks` learn when it starts and how its attempt ends. */
export function runHandler({ flow, runId, stepSlug, taskIndex, input, attempt }: TaskAttempt, workerLogger: Logger, callbacks: HandlerCallbacks): void {
  const step = flow.getStep(stepSlug);
  const timeoutSeconds = step?.options.timeout ?? flow.options.timeout ?? DEFAULT_FLOW_OPTIONS.timeout;
  const ref: TaskRef = { flowSlug: flow.slug, runId, stepSlug, taskIndex, deadline: Date.now() + (timeoutSeconds + 2) * 1000 };
  const controller = new AbortController();
  const logger = childLogger(workerLogger, step?.stepType === 'map' ? { flowSlug: flow.slug, stepSlug, taskIndex, runId, attempt } : { flowSlug: flow.slug, stepSlug, runId, attempt });
  let finished = false;
  let resolveSettled!: () => void;
  const task: RunningTask = {
    ref,
    controller,
    cancelled: false,
    settled: new Promise((resolve) => (resolveSettled = resolve)),
    abandon: () => {
      finished = true;
      timer.clear();
      resolveSettled();
    },
  };
  callbacks.started(task);

  const finish = (outcome: AttemptOutcome) => {
    if (finished) return;
    finished = true;
    timer.clear();
    resolveSettled();
    callbacks.finished(task, outcome);
  };
  const timer = longTimeout(() => {
    const reason = new StepTimeoutError(stepSlug, timeoutSeconds);
    controller.abort(reason);
    logger.warn(`${reason.message}; the attempt fails and the handler's result will be discarded`);
    finish({ error: reason.message });
  }, timeoutSeconds * 1000);

  if (!step) {
    finish({ error: `step "${stepSlug}" is not defined in flow "${flow.slug}" of this worker (the code and the database disagree)` });
    return;
  }
  const context: StepContext = { signal: controller.signal, runId, flowSlug: flow.slug, stepSlug, taskIndex, attempt, logger };
  void (async () => {
    let output: unknown;
    try {
      output = await step.handler(input, context);
    } catch (error) {
      if (finished) return logger.debug('handler failed after its attempt had ended', { error: errorMessage(error) });
      if (task.cancelled) logger.debug('handler stopped after its run was cancelled', { error: errorMessage(error) });
      const message = errorMessage(error) || (error instanceof Error ? error.name : 'handler failed');
      logger.debug('handler failed', { error: message });
      return finish({ error: message });
    }
    if (finished) return logger.debug("handler finished after its attempt had ended; its result is discarded");
    const problem = outputProblem(step, taskIndex, output);
    if (problem) {
      logger.error(problem);
      return finish({ error: problem });
    }
    finish({ output });
  })();
}

/**
 * Why a handler's result cannot be stored as the task's output, or undefined
 * when it can: it must be JSON, and the handler of an `.array()` step must
 * return an array (a map over it would otherwise fail the whole run).
 */
function outputProblem(step: StepDefinition, taskIndex: number, output: unknown): string | undefined {
  const what = step.stepType === 'map' ? `the output of task ${taskIndex} of map step "${step.slug}"` : `the output of step "${step.slug}"`;
  try {
    assertJsonSerialisable(output, what);
  } catch (error) {
    return errorMessage(error);
  }
  if (step.kind === 'array' && !Array.isArray(output)) {
    const got = output === undefined ? 'nothing' : output === null ? 'null' : typeof output === 'object' ? 'an object' : `a ${typeof output}`;
    return `step "${step.slug}" is an array step: its handler must return an array, but it returned ${got}`;
  }
  return undefined;
}
