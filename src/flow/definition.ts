/**
 * The run-time side of the DSL: the records a flow keeps for itself and its
 * steps, and the validation that builds them from the options given to
 * `new Flow()`, `.step()`, `.array()` and `.map()`. Everything TypeScript
 * checks is checked here again, for non-literal values and plain JavaScript,
 * with a FlowDefinitionError naming the flow, the step and the problem.
 */
import type { StepCondition } from '../core/sql-api.js';
import type { StepType } from '../core/types.js';
import { CONDITION_OPTION_KEYS, readCondition } from './condition.js';
import type { StepContext } from './context.js';
import { FlowDefinitionError } from './errors.js';
import { slugProblem } from './slug.js';

/** Retry and timeout options shared by flows and steps (whole seconds). */
export interface RuntimeOptions {
  /**
   * Attempts per task, the first included (>= 0). 0 means the same as 1: one
   * attempt, never retried (the engine accepts 0, as pgflow does). Engine default 3.
   */
  maxAttempts?: number;
  /** Seconds before the first retry; each further retry waits twice as long (>= 0). Engine default 5. */
  baseDelay?: number;
  /** Seconds a task may run; the handler's signal aborts then (>= 1). Engine default 60. */
  timeout?: number;
}

export interface FlowConfig extends RuntimeOptions {
  /** Letters, digits and underscores, starting with a letter; at most 47 characters; names the flow's queue. */
  slug: string;
}

export interface StepRuntimeOptions extends RuntimeOptions {
  /** Seconds to wait, once the step's dependencies are done, before its task may start (>= 0). */
  startDelay?: number;
}

/** A step's handler as stored at run time. */
export type AnyStepHandler = (input: any, context: StepContext) => unknown;

/**
 * Which DSL method defined the step: `step` (one task), `array` (one task
 * whose output must be an array) or `map` (one task per array element).
 */
export type StepKind = 'step' | 'array' | 'map';

export interface StepDefinition {
  readonly slug: string;
  readonly kind: StepKind;
  /** The engine's step type: 'map' for `.map()` steps, 'single' otherwise. */
  readonly stepType: StepType;
  readonly dependsOn: readonly string[];
  /** Only the options that were given; the others fall back to the flow's. */
  readonly options: Readonly<StepRuntimeOptions>;
  /** Only the condition settings that were given (the engine defaults: no patterns, when_unmet 'skip', when_exhausted 'fail'). */
  readonly condition: Readonly<StepCondition>;
  readonly handler: AnyStepHandler;
}

/** What defineStep needs to know of the flow so far. */
export interface FlowSoFar {
  readonly slug: string;
  readonly steps: readonly StepDefinition[];
}

const RUNTIME_OPTION_KEYS = ['maxAttempts', 'baseDelay', 'timeout', 'startDelay'] as const;
export const FLOW_OPTION_KEYS = ['slug', 'maxAttempts', 'baseDelay', 'timeout'] as const;
const STEP_OPTION_KEYS = ['slug', 'dependsOn', ...RUNTIME_OPTION_KEYS, ...CONDITION_OPTION_KEYS] as const;
const MAP_OPTION_KEYS = ['slug', 'array', 'dependsOn', ...RUNTIME_OPTION_KEYS, ...CONDITION_OPTION_KEYS] as const;

/** Option keys each DSL method accepts. */
export type StepOptionKey = (typeof STEP_OPTION_KEYS)[number];
export type MapOptionKey = (typeof MAP_OPTION_KEYS)[number];

/** The smallest value the engine accepts for each option (create_flow / add_step refuse less). */
const MINIMUM: Record<keyof StepRuntimeOptions, number> = { maxAttempts: 0, baseDelay: 0, timeout: 1, startDelay: 0 };

export function runtimeOptions<K extends keyof StepRuntimeOptions>(source: Record<string, unknown>, keys: readonly K[], where: string): Pick<StepRuntimeOptions, K> {
  const result = {} as Pick<StepRuntimeOptions, K>;
  for (const key of keys) {
    const value = source[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < MINIMUM[key] || value > 2_147_483_647) {
      throw new FlowDefinitionError(`${where}: ${key} must be a whole number of at least ${MINIMUM[key]} (got ${JSON.stringify(value) ?? String(value)})`);
    }
    result[key] = value;
  }
  return result;
}

export function rejectUnknownKeys(source: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(source).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new FlowDefinitionError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')} (known: ${known.join(', ')})`);
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The flow's options, validated. */
export function flowOptions(options: unknown): { slug: string; options: Readonly<RuntimeOptions> } {
  if (!isObject(options)) throw new FlowDefinitionError('new Flow(options): options must be an object with a slug');
  const problem = slugProblem(options.slug, 'flow');
  if (problem) throw new FlowDefinitionError(`invalid flow slug ${JSON.stringify(options.slug) ?? String(options.slug)}: ${problem}`);
  const where = `flow "${options.slug as string}"`;
  rejectUnknownKeys(options, FLOW_OPTION_KEYS, where);
  return { slug: options.slug as string, options: Object.freeze(runtimeOptions(options, ['maxAttempts', 'baseDelay', 'timeout'], where)) };
}

const knownSteps = (flow: FlowSoFar) => flow.steps.map((step) => `"${step.slug}"`).join(', ') || 'none yet';

function checkDependencies(flow: FlowSoFar, slug: string, dependsOn: unknown, where: string): string[] {
  if (!Array.isArray(dependsOn) || dependsOn.some((dep) => typeof dep !== 'string')) {
    throw new FlowDefinitionError(`${where}: dependsOn must be an array of step slugs`);
  }
  const seen = new Set<string>();
  for (const dep of dependsOn as string[]) {
    if (dep === slug) throw new FlowDefinitionError(`${where}: a step cannot depend on itself`);
    if (seen.has(dep)) throw new FlowDefinitionError(`${where}: dependsOn lists "${dep}" more than once`);
    seen.add(dep);
    if (!flow.steps.some((step) => step.slug === dep)) {
      throw new FlowDefinitionError(`${where}: depends on unknown step "${dep}"; steps defined so far: ${knownSteps(flow)} (define dependencies before the steps that use them)`);
    }
  }
  return dependsOn as string[];
}

/** The dependencies of a map step: none (a root map over the run input), or the one step named by `array`. */
function mapDependencies(flow: FlowSoFar, slug: string, options: Record<string, unknown>, where: string): string[] {
  const array = options.array;
  const dependsOn = options.dependsOn === undefined ? undefined : checkDependencies(flow, slug, options.dependsOn, where);
  if (array === undefined) {
    if (dependsOn && dependsOn.length > 0) {
      throw new FlowDefinitionError(
        `${where}: a map step maps over the array of the one step it depends on; name it with array: "${dependsOn[0]}" ` +
          `(a map without array maps over the run input and depends on nothing)`,
      );
    }
    return [];
  }
  if (typeof array !== 'string') throw new FlowDefinitionError(`${where}: array must be the slug of the step whose output the map step maps over`);
  if (dependsOn && dependsOn.length > 1) {
    throw new FlowDefinitionError(`${where}: a map step depends on one step at most, the one named by array ("${array}"); dependsOn lists ${dependsOn.map((dep) => `"${dep}"`).join(', ')}`);
  }
  if (dependsOn && dependsOn.length === 1 && dependsOn[0] !== array) {
    throw new FlowDefinitionError(`${where}: array names "${array}" but dependsOn lists "${dependsOn[0]}"; a map step depends only on the step whose array it maps`);
  }
  if (dependsOn && dependsOn.length === 0) {
    throw new FlowDefinitionError(`${where}: array names "${array}" but dependsOn is empty; leave dependsOn out (array is the map step's dependency)`);
  }
  if (array !== slug && !flow.steps.some((step) => step.slug === array)) {
    throw new FlowDefinitionError(`${where}: array names unknown step "${array}"; steps defined so far: ${knownSteps(flow)} (define the step before the map step over it)`);
  }
  return checkDependencies(flow, slug, [array], where);
}

/** Validates a step's options and handler and returns its definition. */
export function defineStep(flow: FlowSoFar, kind: StepKind, options: unknown, handler: unknown): StepDefinition {
  const method = kind === 'step' ? '.step()' : kind === 'array' ? '.array()' : '.map()';
  if (!isObject(options)) throw new FlowDefinitionError(`flow "${flow.slug}": ${method} options must be an object with a slug`);
  const slug = options.slug;
  const problem = slugProblem(slug, 'step');
  if (problem) throw new FlowDefinitionError(`flow "${flow.slug}": invalid step slug ${JSON.stringify(slug) ?? String(slug)}: ${problem}`);
  const where = `flow "${flow.slug}", ${kind === 'step' ? 'step' : `${kind} step`} "${slug as string}"`;
  if (flow.steps.some((step) => step.slug === slug)) throw new FlowDefinitionError(`${where}: a step with this slug is already defined`);
  rejectUnknownKeys(options, kind === 'map' ? MAP_OPTION_KEYS : STEP_OPTION_KEYS, where);
  const dependsOn = kind === 'map' ? mapDependencies(flow, slug as string, options, where) : checkDependencies(flow, slug as string, options.dependsOn ?? [], where);
  const stepOptions = runtimeOptions(options, RUNTIME_OPTION_KEYS, where);
  const condition = readCondition(options, where);
  if (typeof handler !== 'function') throw new FlowDefinitionError(`${where}: the handler must be a function`);
  return Object.freeze({
    slug: slug as string,
    kind,
    stepType: kind === 'map' ? 'map' : 'single',
    dependsOn: Object.freeze([...dependsOn]),
    options: Object.freeze(stepOptions),
    condition: Object.freeze(condition),
    handler: handler as AnyStepHandler,
  });
}
