/**
 * Step conditions in the DSL: the `if` / `ifNot` patterns a step's input is
 * checked against, what happens when they do not hold (`whenUnmet`) or when
 * a task has failed its last attempt (`retriesExhausted`), the types that
 * check patterns against a step's input, and the run-time validation that
 * turns the options into what `pgflow.add_step` stores.
 *
 * The engine checks a step's condition against the input the step would get
 * as a single step, `{ run: <run input>, <dep>: <dep output>, ... }` (for a
 * map step too: its dependency's key holds the whole array), using JSON
 * containment (`@>`): the input must contain the `if` pattern and must not
 * contain the `ifNot` pattern.
 */
import { SKIP_MODES, type Json, type SkipMode } from '../core/types.js';
import type { StepCondition } from '../core/sql-api.js';
import { assertJsonSerialisable } from './json.js';
import { FlowDefinitionError } from './errors.js';

export { SKIP_MODES, type SkipMode, type StepCondition };

/**
 * A pattern for JSON containment against a value of type `T`: objects with
 * any subset of their keys (recursively), arrays of patterns of their
 * elements (the value must contain each), and primitives as they are.
 */
export type InputPattern<T> = 0 extends 1 & T
  ? any
  : T extends readonly (infer E)[]
    ? readonly InputPattern<E>[]
    : T extends object
      ? { readonly [K in keyof T]?: InputPattern<T[K]> }
      : T;

/** The condition options of `.step()`, `.array()` and `.map()`, with patterns checked against the step's input `I`. */
export interface ConditionOptions<I, Unmet extends SkipMode = SkipMode, Exhausted extends SkipMode = SkipMode> {
  /**
   * Run the step only when its input contains this pattern (JSON containment,
   * `@>`). The input is `{ run: <run input>, <dep>: <dep output>, ... }` for
   * the step's direct dependencies; a map step's dependency key holds the
   * whole array. Stored as `required_input_pattern`.
   */
  if?: InputPattern<I>;
  /** Run the step only when its input does not contain this pattern. Stored as `forbidden_input_pattern`. */
  ifNot?: InputPattern<I>;
  /**
   * When the condition does not hold: `'skip'` the step (the default; its
   * dependents run without its key), `'skip-cascade'` (skip it and every step
   * after it), or `'fail'` the run. Only with `if` or `ifNot`.
   */
  whenUnmet?: Unmet;
  /**
   * When a task has failed its last attempt: `'fail'` the run (the default),
   * `'skip'` the step (its dependents run without its key) or
   * `'skip-cascade'` (skip it and every step after it). Stored as `when_exhausted`.
   */
  retriesExhausted?: Exhausted;
  /** The name pgflow 0.14 gives `retriesExhausted`; give one of the two. */
  whenExhausted?: Exhausted;
}

/** The option keys of ConditionOptions. */
export const CONDITION_OPTION_KEYS = ['if', 'ifNot', 'whenUnmet', 'retriesExhausted', 'whenExhausted'] as const;

/**
 * Whether the dependents of a step defined with these options may run
 * without its output: it may be skipped alone, by its condition (`if` /
 * `ifNot` given and `whenUnmet` 'skip', the default) or after its last
 * attempt (`retriesExhausted: 'skip'`). A step skipped with 'skip-cascade'
 * takes its dependents with it, so they never run without it.
 */
export type SkipsAlone<Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> = [Exhausted] extends ['skip']
  ? true
  : HasCondition<Keys> extends true
    ? [Unmet] extends ['skip']
      ? true
      : false
    : false;

/** Whether the step may be skipped together with every step after it ('skip-cascade'). */
export type SkipsWithDependents<Keys extends PropertyKey, Unmet extends SkipMode, Exhausted extends SkipMode> = [Exhausted] extends ['skip-cascade']
  ? true
  : HasCondition<Keys> extends true
    ? [Unmet] extends ['skip-cascade']
      ? true
      : false
    : false;

/** True when the option keys include `if` or `ifNot`. */
export type HasCondition<Keys extends PropertyKey> = [Extract<Keys, 'if' | 'ifNot'>] extends [never] ? false : true;

/** Refuses `whenUnmet` on a step without `if` / `ifNot` (the message appears in the compiler error). */
export type WhenUnmetNeedsCondition<Keys extends PropertyKey> =
  HasCondition<Keys> extends true ? unknown : { whenUnmet?: { 'whenUnmet applies only to a step with if or ifNot': true } };

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && [Object.prototype, null].includes(Object.getPrototypeOf(value) as object | null);

function pattern(value: unknown, option: string, where: string): { [key: string]: Json } | undefined {
  if (value === undefined) return undefined;
  if (!isPlainObject(value)) {
    const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
    throw new FlowDefinitionError(`${where}: ${option} must be a JSON object pattern such as { run: { kind: 'pdf' } } (got ${got})`);
  }
  try {
    assertJsonSerialisable(value, `${where}: the ${option} pattern`);
  } catch (error) {
    throw new FlowDefinitionError((error as Error).message);
  }
  // A copy as the database will store it (properties that are undefined are left out).
  return JSON.parse(JSON.stringify(value)) as { [key: string]: Json };
}

function mode(value: unknown, option: string, where: string): SkipMode | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(SKIP_MODES as readonly string[]).includes(value)) {
    throw new FlowDefinitionError(`${where}: ${option} must be ${SKIP_MODES.map((item) => `'${item}'`).join(', ')} (got ${JSON.stringify(value) ?? String(value)})`);
  }
  return value as SkipMode;
}

/** The condition the options describe, as add_step stores it (only what was given); throws FlowDefinitionError when invalid. */
export function readCondition(options: Record<string, unknown>, where: string): StepCondition {
  const condition: StepCondition = {};
  const required = pattern(options.if, 'if', where);
  const forbidden = pattern(options.ifNot, 'ifNot', where);
  const whenUnmet = mode(options.whenUnmet, 'whenUnmet', where);
  const retriesExhausted = mode(options.retriesExhausted, 'retriesExhausted', where);
  const whenExhausted = mode(options.whenExhausted, 'whenExhausted', where);
  if (whenUnmet !== undefined && required === undefined && forbidden === undefined) {
    throw new FlowDefinitionError(`${where}: whenUnmet applies only to a step with if or ifNot (it says what happens when they do not hold)`);
  }
  if (retriesExhausted !== undefined && whenExhausted !== undefined) {
    throw new FlowDefinitionError(`${where}: give retriesExhausted or whenExhausted (the same option under pgflow 0.14's name), not both`);
  }
  if (required !== undefined) condition.requiredInputPattern = required;
  if (forbidden !== undefined) condition.forbiddenInputPattern = forbidden;
  if (whenUnmet !== undefined) condition.whenUnmet = whenUnmet;
  const exhausted = retriesExhausted ?? whenExhausted;
  if (exhausted !== undefined) condition.whenExhausted = exhausted;
  return condition;
}
