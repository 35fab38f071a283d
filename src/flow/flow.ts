/**
 * The flow DSL: a typed, immutable builder for a DAG of steps.
 *
 *   const flow = new Flow<{ url: string }>({ slug: 'scrape', maxAttempts: 3 })
 *     .step({ slug: 'fetch' }, async ({ run }) => ({ html: await get(run.url) }))
 *     .array({ slug: 'links', dependsOn: ['fetch'] }, ({ fetch }) => linksOf(fetch.html))
 *     .map({ slug: 'pages', array: 'links' }, (url) => ({ url, size: url.length }))
 *     .step({ slug: 'report', dependsOn: ['pages'], if: { run: { url: 'https://example.com' } } }, ({ pages }) => pages.length);
 *
 * Each method returns a new Flow whose type records the step's output, so a
 * handler's input is `{ run: Input, <dep>: <dep output> }` for exactly its
 * direct dependencies (a map handler gets one array element instead). A
 * dependency that may be skipped while its dependents still run is optional
 * in their input. Unknown dependencies, duplicate or invalid slugs, non-JSON
 * outputs, patterns that do not fit the step's input and maps over
 * non-arrays are compile-time errors for literal slugs and run-time errors
 * (FlowDefinitionError) otherwise (see ./definition.ts).
 */
import type { Json, SkipMode } from '../core/types.js';
import type { ConditionOptions, SkipsAlone, SkipsWithDependents, WhenUnmetNeedsCondition } from './condition.js';
import type { StepContext } from './context.js';
import { defineStep, flowOptions, type MapOptionKey, type RuntimeOptions, type FlowConfig, type StepDefinition, type StepKind, type StepOptionKey, type StepRuntimeOptions } from './definition.js';
import type { CheckJsonOutput, StoredOutput } from './json.js';
import type { CheckStepSlug } from './slug.js';

export { FlowDefinitionError } from './errors.js';
export type { AnyStepHandler, FlowConfig, RuntimeOptions, StepDefinition, StepKind, StepRuntimeOptions } from './definition.js';

/** Kept for code written against earlier releases: the options `.step()` takes, without conditions. */
export interface StepConfig<Slug extends string = string, Deps extends readonly string[] = readonly string[]> extends StepRuntimeOptions {
  slug: Slug;
  /** Steps whose outputs this step receives; they must be defined earlier. */
  dependsOn?: Deps;
}

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/**
 * The input a step's handler receives: the run input and the outputs of its
 * direct dependencies; those in `Optional` (steps that may be skipped while
 * their dependents run) are optional keys.
 */
export type StepInput<TInput, TSteps, Dep extends keyof TSteps, Optional extends PropertyKey = never> = Simplify<
  { run: TInput } & { [K in Exclude<Dep, Optional>]: TSteps[K] } & { [K in Extract<Dep, Optional>]?: TSteps[K] }
>;

/**
 * The handler of a step whose input is `I`: returns JSON (or nothing, stored
 * as null), synchronously or not. Handlers returning anything else are not
 * assignable (see CheckJsonOutput).
 */
export type StepHandler<I, Out> = ((input: I, context: StepContext) => Out | Promise<Out>) & CheckJsonOutput<Out>;

/** The element type of an array type. */
export type ElementOf<T> = T extends readonly (infer E)[] ? E : never;

/** Slugs of the steps whose output is an array (what `.map({ array })` may name). */
export type ArraySteps<TSteps> = { [K in keyof TSteps]: TSteps[K] extends readonly unknown[] ? K : never }[keyof TSteps] & string;

// ---- Option types: the keys given are captured (Keys) to know whether a condition was set; unknown keys are refused by name.

type KeyCapture<Keys extends PropertyKey> = { [K in Keys]?: unknown };
type UnknownOptions<Keys extends PropertyKey, Known extends string> = { [K in Exclude<Keys, Known>]: `"${K & string}" is not an option of this method` };

type StepOptions<TSteps, Slug extends string, Deps, I, Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> = StepRuntimeOptions & {
  slug: CheckStepSlug<Slug, TSteps>;
  /** Steps whose outputs this step receives; they must be defined earlier. */
  dependsOn?: Deps;
} & ConditionOptions<I, Unmet, Exhausted> &
  KeyCapture<Keys> &
  UnknownOptions<NoInfer<Keys>, StepOptionKey> &
  WhenUnmetNeedsCondition<NoInfer<Keys>>;

/** The type of a map step's slug: a map without `array` maps over the run input, which must then be an array. */
type MapSlug<TInput, TSteps, Slug extends string, ArrayDep> = [ArrayDep] extends [never]
  ? TInput extends readonly unknown[]
    ? CheckStepSlug<Slug, TSteps>
    : 'a map step without array maps over the run input, which is not an array in this flow: name the step to map over with array'
  : CheckStepSlug<Slug, TSteps>;

type MapOptions<TInput, TSteps, Slug extends string, ArrayDep, I, Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> = StepRuntimeOptions & {
  slug: MapSlug<TInput, TSteps, Slug, NoInfer<ArrayDep>>;
  /** The step whose output (an array) this step maps over, one task per element; without it, the run input. */
  array?: ArrayDep;
  /** Optional: the step named by `array`, the map step's only dependency. */
  dependsOn?: readonly NoInfer<ArrayDep>[];
} & ConditionOptions<I, Unmet, Exhausted> &
  KeyCapture<Keys> &
  UnknownOptions<NoInfer<Keys>, MapOptionKey> &
  WhenUnmetNeedsCondition<NoInfer<Keys>>;

/** `Slug` when the step may be skipped while its dependents run. */
type AloneIf<Slug extends string, Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> =
  SkipsAlone<Keys, Unmet, Exhausted> extends true ? Slug : never;

/** `Slug` when the step may be skipped with its dependents: by its own 'skip-cascade', or because a dependency may be. */
type CascadeIf<Slug extends string, Dep, Cascade extends string, Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> =
  SkipsWithDependents<Keys, Unmet, Exhausted> extends true ? Slug : [Extract<Dep, Cascade>] extends [never] ? never : Slug;

const FLOW_BRAND = Symbol.for('pgflow-orm.flow');

/**
 * A flow definition. Type parameters: the run input, step outputs by slug,
 * each step's direct dependencies, the steps that may be skipped while their
 * dependents run (`TOptional`), and those that may be skipped together with
 * every step after them (`TCascade`).
 *
 * @example
 * ```ts
 * import { Flow, type FlowOutput } from 'pgflow-orm';
 *
 * export const orders = new Flow<{ orderId: string; skus: string[] }>({ slug: 'orders', maxAttempts: 3, timeout: 30 })
 *   .array({ slug: 'items' }, ({ run }) => run.skus)
 *   .map({ slug: 'reserve', array: 'items' }, (sku, { taskIndex }) => ({ sku, line: taskIndex }))
 *   .step({ slug: 'confirm', dependsOn: ['reserve'] }, ({ run, reserve }) => `${run.orderId}: ${reserve.length} items reserved`);
 *
 * type Output = FlowOutput<typeof orders>; // { confirm: string }
 * ```
 */
export class Flow<
  TInput extends object = Record<string, Json>,
  TSteps extends Record<string, unknown> = {},
  TDeps extends Record<string, string> = {},
  TOptional extends string = never,
  TCascade extends string = never,
> {
  declare readonly slug: string;
  /** The flow's options as given (missing ones take the engine defaults: 3 attempts, 5 s base delay, 60 s timeout). */
  declare readonly options: Readonly<RuntimeOptions>;
  /** Steps in definition order (dependencies first). */
  declare readonly steps: readonly StepDefinition[];
  /** Type-level record of the input, step outputs, dependencies and skippable steps; never set at run time. */
  declare readonly __types?: { input: TInput; steps: TSteps; deps: TDeps; optional: TOptional; cascade: TCascade };

  constructor(options: FlowConfig) {
    const { slug, options: runtime } = flowOptions(options);
    initialise(this, slug, runtime, []);
  }

  /**
   * Adds a step with one task and returns the extended flow (this flow is
   * left unchanged). `handler(input, context)` gets `{ run, <dep>: <output> }`
   * for the steps in `dependsOn` and returns the step's output: JSON, or
   * nothing (null). `if` / `ifNot` patterns are checked against that input.
   */
  step<
    const Slug extends string,
    const Deps extends readonly (keyof TSteps & string)[] = [],
    Out = void,
    const Keys extends PropertyKey = never,
    const Unmet extends SkipMode = 'skip',
    const Exhausted extends SkipMode = 'fail',
  >(
    options: StepOptions<TSteps, Slug, Deps, StepInput<TInput, TSteps, Deps[number], TOptional>, Keys, Unmet, Exhausted>,
    handler: StepHandler<StepInput<TInput, TSteps, Deps[number], TOptional>, Out>,
  ): Flow<
    TInput,
    Simplify<TSteps & { [K in Slug]: StoredOutput<Out> }>,
    Simplify<TDeps & { [K in Slug]: Deps[number] }>,
    TOptional | AloneIf<Slug, Keys, Unmet, Exhausted>,
    TCascade | CascadeIf<Slug, Deps[number], TCascade, Keys, Unmet, Exhausted>
  > {
    return this.extend('step', options, handler);
  }

  /**
   * Adds a step whose output is an array, typically for a `.map()` over it:
   * like `.step()`, but the handler must return an array (a compile-time
   * error otherwise; at run time the worker fails the attempt when it does not).
   */
  array<
    const Slug extends string,
    const Deps extends readonly (keyof TSteps & string)[] = [],
    Out extends readonly unknown[] = never[],
    const Keys extends PropertyKey = never,
    const Unmet extends SkipMode = 'skip',
    const Exhausted extends SkipMode = 'fail',
  >(
    options: StepOptions<TSteps, Slug, Deps, StepInput<TInput, TSteps, Deps[number], TOptional>, Keys, Unmet, Exhausted>,
    handler: StepHandler<StepInput<TInput, TSteps, Deps[number], TOptional>, Out>,
  ): Flow<
    TInput,
    Simplify<TSteps & { [K in Slug]: Out }>,
    Simplify<TDeps & { [K in Slug]: Deps[number] }>,
    TOptional | AloneIf<Slug, Keys, Unmet, Exhausted>,
    TCascade | CascadeIf<Slug, Deps[number], TCascade, Keys, Unmet, Exhausted>
  > {
    return this.extend('array', options, handler);
  }

  /**
   * Adds a map step: one task per element of an array, each running
   * `handler(element, context)`; the step's output is the array of the
   * handlers' results, in element order. With `array: '<step>'` it maps over
   * that step's output (its only dependency); without, over the run input
   * (which must then be an array). An empty array completes the step at once
   * with `[]`. `if` / `ifNot` patterns are checked against
   * `{ run, <array step>: <the whole array> }`.
   */
  map<
    const Slug extends string,
    const ArrayDep extends ArraySteps<TSteps> = never,
    Out = void,
    const Keys extends PropertyKey = never,
    const Unmet extends SkipMode = 'skip',
    const Exhausted extends SkipMode = 'fail',
  >(
    options: MapOptions<TInput, TSteps, Slug, ArrayDep, StepInput<TInput, TSteps, ArrayDep, TOptional>, Keys, Unmet, Exhausted>,
    handler: StepHandler<[ArrayDep] extends [never] ? ElementOf<TInput> : ElementOf<TSteps[ArrayDep]>, Out>,
  ): Flow<
    TInput,
    Simplify<TSteps & { [K in Slug]: StoredOutput<Out>[] }>,
    Simplify<TDeps & { [K in Slug]: ArrayDep }>,
    TOptional | AloneIf<Slug, Keys, Unmet, Exhausted>,
    TCascade | CascadeIf<Slug, ArrayDep, TCascade, Keys, Unmet, Exhausted>
  > {
    return this.extend('map', options, handler);
  }

  private extend<F>(kind: StepKind, options: unknown, handler: unknown): F {
    const definition = defineStep(this, kind, options, handler);
    const next = Object.create(Flow.prototype) as AnyFlow;
    initialise(next, this.slug, this.options, [...this.steps, definition]);
    return next as F;
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

function initialise(flow: AnyFlow, slug: string, options: Readonly<RuntimeOptions>, steps: StepDefinition[]): void {
  Object.defineProperties(flow, {
    slug: { value: slug, enumerable: true },
    options: { value: options, enumerable: true },
    steps: { value: Object.freeze(steps), enumerable: true },
  });
}

/** Any flow, whatever its types. */
export type AnyFlow = Flow<any, any, any, any, any>;

/** The input a flow's runs take. */
export type FlowInput<F extends AnyFlow> = F extends Flow<infer I, any, any, any, any> ? I : never;

/** Output types of the flow's steps, by slug. */
export type FlowSteps<F extends AnyFlow> = F extends Flow<any, infer S, any, any, any> ? S : never;

/** The output of one step of the flow. */
export type StepOutput<F extends AnyFlow, S extends keyof FlowSteps<F>> = FlowSteps<F>[S];

/** Slugs of the steps nothing depends on. */
export type LeafSteps<F extends AnyFlow> = F extends Flow<any, infer S, infer D, any, any> ? Exclude<keyof S, D[keyof D]> : never;

/** Slugs of the steps that may be skipped: alone (`whenUnmet` / `retriesExhausted` 'skip') or with the steps after them ('skip-cascade'). */
export type SkippableSteps<F extends AnyFlow> = F extends Flow<any, any, any, infer O, infer C> ? O | C : never;

/**
 * A completed run's output: the outputs of the flow's leaf steps, by slug;
 * a leaf step that may be skipped is an optional key (absent when skipped).
 */
export type FlowOutput<F extends AnyFlow> =
  F extends Flow<any, infer S, any, infer O, infer C>
    ? Simplify<
        { [K in LeafSteps<F> & keyof S as K extends O | C ? never : K]: S[K] } & { [K in LeafSteps<F> & keyof S as K extends O | C ? K : never]?: S[K] }
      >
    : never;
