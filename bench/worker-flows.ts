/**
 * The benchmark's scenarios as Flow objects for `startWorker`: the same
 * shapes as bench/scenarios.ts defines in SQL, with no-op async handlers that
 * return the benchmark's trivial output and tell the caller which task ran.
 */
import { Flow, type AnyFlow, type StepContext } from '../src/flow/index.js';
import { handler, type Scenario } from './scenarios.js';

/** Called by every handler with the task it ran. */
export type OnTask = (context: StepContext) => void;

type LooseFlow = {
  step(options: { slug: string; dependsOn?: string[] }, run: (input: unknown, context: StepContext) => Promise<unknown>): LooseFlow;
  map(options: { slug: string }, run: (input: unknown, context: StepContext) => Promise<unknown>): LooseFlow;
};

/** The scenario's flow, each handler an async function that records its task and returns at once. */
export function scenarioFlow(scenario: Scenario, onTask: OnTask): AnyFlow {
  const run = async (_input: unknown, context: StepContext) => {
    onTask(context);
    return handler(context.stepSlug, context.taskIndex);
  };
  // The steps are built in a loop, which the DSL's precise types cannot follow; the shapes are the ones
  // bench/scenarios.ts defines (and the flow is compared with nothing: the worker runs with ensureFlows off).
  let flow = new Flow({ slug: scenario.flowSlug }) as unknown as LooseFlow;
  for (const step of scenario.steps) {
    flow = step.type === 'map' ? flow.map({ slug: step.slug }, run) : flow.step({ slug: step.slug, dependsOn: step.deps }, run);
  }
  return flow as unknown as AnyFlow;
}
