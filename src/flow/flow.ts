/**
 * The flow DSL: a typed, immutable builder for a DAG of steps.
 *
 *   const flow = new Flow<{ url: string }>({ slug: 'scrape', maxAttempts: 3 })
 *     .step({ slug: 'fetch' }, async ({ run }) => ({ html: await get(run.url) }))
 *     .step({ slug: 'parse', dependsOn: ['fetch'] }, ({ fetch }) => ({ title: titleOf(fetch.html) }));
 *
 * Each `.step()` returns a new Flow whose type records the step's output, so
 * a handler's input is `{ run: Input, <dep>: <dep output> }` for exactly its
 * direct dependencies. Unknown dependencies, duplicate or invalid slugs and
 * non-JSON outputs are compile-time errors for literal slugs and run-time
 * errors (FlowDefinitionError) otherwise.
 */
import type { Json } from '../core/types.js';
import type { StepContext } from './context.js';
import type { CheckJsonOutput, StoredOutput } from './json.js';
import { slugProblem, type CheckStepSlug } from './slug.js';

/** Retry and timeout options shared by flows and steps (whole seconds). */
export interface RuntimeOptions {
  /** Attempts per task, the first included (>= 1). Engine default 3. */
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

export interface StepConfig<Slug extends string = string, Deps extends readonly string[] = readonly string[]> extends StepRuntimeOptions {
  slug: Slug;
  /** Steps whose outputs this step receives; they must be defined earlier. */
  dependsOn?: Deps;
}

/** A step's handler as stored at run time. */
export type AnyStepHandler = (input: any, context: StepContext) => unknown;

export interface StepDefinition {
  readonly slug: string;
  readonly dependsOn: readonly string[];
  /** Only the options that were given; the others fall back to the flow's. */
  readonly options: Readonly<StepRuntimeOptions>;
  readonly handler: AnyStepHandler;
}

/** Raised when a flow or step definition is invalid. */
export class FlowDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowDefinitionError';
  }
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The input a step's handler receives: the run input and the outputs of its direct dependencies. */
export type StepInput<TInput, TSteps, Dep extends keyof TSteps> = Simplify<{ run: TInput } & { [K in Dep]: TSteps[K] }>;

/**
 * The handler of a step whose input is `I`: returns JSON (or nothing, stored
 * as null), synchronously or not. Handlers returning anything else are not
 * assignable (see CheckJsonOutput).
 */
export type StepHandler<I, Out> = ((input: I, context: StepContext) => Out | Promise<Out>) & CheckJsonOutput<Out>;

const FLOW_BRAND = Symbol.for('pgflow-orm.flow');
const FLOW_OPTION_KEYS = ['slug', 'maxAttempts', 'baseDelay', 'timeout'] as const;
const STEP_OPTION_KEYS = ['slug', 'dependsOn', 'maxAttempts', 'baseDelay', 'timeout', 'startDelay'] as const;

const MINIMUM: Record<keyof StepRuntimeOptions, number> = { maxAttempts: 1, baseDelay: 0, timeout: 1, startDelay: 0 };

function runtimeOptions<K extends keyof StepRuntimeOptions>(source: Record<string, unknown>, keys: readonly K[], where: string): Pick<StepRuntimeOptions, K> {
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

function rejectUnknownKeys(source: object, known: readonly string[], where: string): void {
  const unknown = Object.keys(source).filter((key) => !known.includes(key));
  if (unknown.length > 0) {
    throw new FlowDefinitionError(`${where}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((key) => `"${key}"`).join(', ')} (known: ${known.join(', ')})`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class Flow<TInput extends object = Record<string, Json>, TSteps extends Record<string, unknown> = {}, TDeps extends Record<string, string> = {}> {
  declare readonly slug: string;
  /** The flow's options as given (missing ones take the engine defaults: 3 attempts, 5 s base delay, 60 s timeout). */
  declare readonly options: Readonly<RuntimeOptions>;
  /** Steps in definition order (dependencies first). */
  declare readonly steps: readonly StepDefinition[];
  /** Type-level record of the input, step outputs and dependencies; never set at run time. */
  declare readonly __types?: { input: TInput; steps: TSteps; deps: TDeps };

  constructor(options: FlowConfig) {
    if (!isObject(options)) throw new FlowDefinitionError('new Flow(options): options must be an object with a slug');
    const problem = slugProblem(options.slug, 'flow');
    if (problem) throw new FlowDefinitionError(`invalid flow slug ${JSON.stringify(options.slug) ?? String(options.slug)}: ${problem}`);
    const where = `flow "${options.slug}"`;
    rejectUnknownKeys(options, FLOW_OPTION_KEYS, where);
    initialise(this, options.slug, Object.freeze(runtimeOptions(options, ['maxAttempts', 'baseDelay', 'timeout'], where)), []);
  }

  /**
   * Adds a step and returns the extended flow (this flow is left unchanged).
   * `handler(input, context)` gets `{ run, <dep>: <output> }` for the steps in
   * `dependsOn` and returns the step's output: JSON, or nothing (null).
   */
  step<const Slug extends string, const Deps extends readonly (keyof TSteps & string)[] = [], Out = void>(
    options: StepRuntimeOptions & { slug: CheckStepSlug<Slug, TSteps>; dependsOn?: Deps },
    handler: StepHandler<StepInput<TInput, TSteps, Deps[number]>, Out>,
  ): Flow<TInput, Simplify<TSteps & { [K in Slug]: StoredOutput<Out> }>, Simplify<TDeps & { [K in Slug]: Deps[number] }>> {
    const definition = defineStep(this, options as unknown, handler as unknown);
    const next = Object.create(Flow.prototype) as Flow<TInput, Simplify<TSteps & { [K in Slug]: StoredOutput<Out> }>, Simplify<TDeps & { [K in Slug]: Deps[number] }>>;
    initialise(next, this.slug, this.options, [...this.steps, definition]);
    return next;
  }

  /** The step with this slug, or undefined. */
  getStep(slug: string): StepDefinition | undefined {
    return this.steps.find((step) => step.slug === slug);
  }

  /** The slugs of steps no other step depends on; their outputs form the run's output. */
  get leafSteps(): string[] {
    const used = new Set(this.steps.flatMap((step) => step.dependsOn));
    return this.steps.filter((step) => !used.has(step.slug)).map((step) => step.slug);
  }

  /** True for Flow objects, also those created by another copy of this package. */
  static isFlow(value: unknown): value is AnyFlow {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[FLOW_BRAND] === true;
  }
}

Object.defineProperty(Flow.prototype, FLOW_BRAND, { value: true });

function initialise(flow: Flow<any, any, any>, slug: string, options: Readonly<RuntimeOptions>, steps: StepDefinition[]): void {
  Object.defineProperties(flow, {
    slug: { value: slug, enumerable: true },
    options: { value: options, enumerable: true },
    steps: { value: Object.freeze(steps), enumerable: true },
  });
}

function defineStep(flow: Flow<any, any, any>, options: unknown, handler: unknown): StepDefinition {
  if (!isObject(options)) throw new FlowDefinitionError(`flow "${flow.slug}": step options must be an object with a slug`);
  const slug = options.slug;
  const problem = slugProblem(slug, 'step');
  if (problem) throw new FlowDefinitionError(`flow "${flow.slug}": invalid step slug ${JSON.stringify(slug) ?? String(slug)}: ${problem}`);
  const where = `flow "${flow.slug}", step "${slug as string}"`;
  if (flow.getStep(slug as string)) throw new FlowDefinitionError(`${where}: a step with this slug is already defined`);
  rejectUnknownKeys(options, STEP_OPTION_KEYS, where);
  const dependsOn = options.dependsOn ?? [];
  if (!Array.isArray(dependsOn) || dependsOn.some((dep) => typeof dep !== 'string')) {
    throw new FlowDefinitionError(`${where}: dependsOn must be an array of step slugs`);
  }
  const seen = new Set<string>();
  for (const dep of dependsOn as string[]) {
    if (dep === slug) throw new FlowDefinitionError(`${where}: a step cannot depend on itself`);
    if (seen.has(dep)) throw new FlowDefinitionError(`${where}: dependsOn lists "${dep}" more than once`);
    seen.add(dep);
    if (!flow.getStep(dep)) {
      const known = flow.steps.map((step) => `"${step.slug}"`).join(', ') || 'none yet';
      throw new FlowDefinitionError(`${where}: depends on unknown step "${dep}"; steps defined so far: ${known} (define dependencies before the steps that use them)`);
    }
  }
  if (typeof handler !== 'function') throw new FlowDefinitionError(`${where}: the handler must be a function`);
  return Object.freeze({
    slug: slug as string,
    dependsOn: Object.freeze([...(dependsOn as string[])]),
    options: Object.freeze(runtimeOptions(options, ['maxAttempts', 'baseDelay', 'timeout', 'startDelay'], where)),
    handler: handler as AnyStepHandler,
  });
}

/** Any flow, whatever its types. */
export type AnyFlow = Flow<any, any, any>;

/** The input a flow's runs take. */
export type FlowInput<F extends AnyFlow> = F extends Flow<infer I, any, any> ? I : never;

/** Output types of the flow's steps, by slug. */
export type FlowSteps<F extends AnyFlow> = F extends Flow<any, infer S, any> ? S : never;

/** The output of one step of the flow. */
export type StepOutput<F extends AnyFlow, S extends keyof FlowSteps<F>> = FlowSteps<F>[S];

/** Slugs of the steps nothing depends on. */
export type LeafSteps<F extends AnyFlow> = F extends Flow<any, infer S, infer D> ? Exclude<keyof S, D[keyof D]> : never;

/** A completed run's output: the outputs of the flow's leaf steps, by slug. */
export type FlowOutput<F extends AnyFlow> = F extends Flow<any, infer S, any> ? Simplify<{ [K in LeafSteps<F> & keyof S]: S[K] }> : never;
