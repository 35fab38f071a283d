/**
 * Turns a flow into the SQL that creates it: one `pgflow.create_flow` call and
 * one `pgflow.add_step` call per step, in definition order, in the same shape
 * as @pgflow/dsl's compileFlow:
 *
 *   SELECT pgflow.create_flow('my_flow', max_attempts => 3, base_delay => 5, timeout => 60);
 *   SELECT pgflow.add_step('my_flow', 'fetch');
 *   SELECT pgflow.add_step('my_flow', 'parse', ARRAY['fetch'], timeout => 30, start_delay => 10);
 *
 * Slugs and dependencies are positional, options are named and appear only
 * when set, in a fixed order: the runtime options, then `step_type => 'map'`
 * for map steps (as @pgflow/dsl 0.8.1 emits them), then the condition:
 *
 *   SELECT pgflow.add_step('my_flow', 'each', ARRAY['list'], timeout => 30, step_type => 'map',
 *     required_input_pattern => '{"run":{"go":true}}'::jsonb, when_unmet => 'skip-cascade');
 *
 * (on one line). The statements are idempotent for an unchanged flow
 * (create_flow upserts, add_step of an identical step is a no-op).
 */
import type { StepCondition } from '../core/sql-api.js';
import type { AnyFlow, StepDefinition, StepRuntimeOptions } from './flow.js';

/** A SQL string literal: the text in single quotes, quotes doubled. */
export function sqlLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

const OPTION_PARAMETERS: readonly [keyof StepRuntimeOptions, string][] = [
  ['maxAttempts', 'max_attempts'],
  ['baseDelay', 'base_delay'],
  ['timeout', 'timeout'],
  ['startDelay', 'start_delay'],
];

function namedOptions(options: Readonly<StepRuntimeOptions>): string[] {
  return OPTION_PARAMETERS.filter(([key]) => options[key] !== undefined).map(([key, parameter]) => `${parameter} => ${String(options[key])}`);
}

/** A JSON value as a jsonb literal: `'<json>'::jsonb`, quotes doubled. */
export function jsonbLiteral(value: unknown): string {
  return `${sqlLiteral(JSON.stringify(value))}::jsonb`;
}

function conditionParameters(condition: Readonly<StepCondition>): string[] {
  const parameters: string[] = [];
  if (condition.requiredInputPattern !== undefined) parameters.push(`required_input_pattern => ${jsonbLiteral(condition.requiredInputPattern)}`);
  if (condition.forbiddenInputPattern !== undefined) parameters.push(`forbidden_input_pattern => ${jsonbLiteral(condition.forbiddenInputPattern)}`);
  if (condition.whenUnmet !== undefined) parameters.push(`when_unmet => ${sqlLiteral(condition.whenUnmet)}`);
  if (condition.whenExhausted !== undefined) parameters.push(`when_exhausted => ${sqlLiteral(condition.whenExhausted)}`);
  return parameters;
}

/** The `pgflow.add_step(...)` call (without `SELECT`) that creates one step of the flow. */
export function stepCall(flowSlug: string, step: StepDefinition): string {
  const args = [sqlLiteral(flowSlug), sqlLiteral(step.slug)];
  if (step.dependsOn.length > 0) args.push(`ARRAY[${step.dependsOn.map(sqlLiteral).join(', ')}]`);
  args.push(...namedOptions(step.options));
  if (step.stepType === 'map') args.push(`step_type => 'map'`);
  args.push(...conditionParameters(step.condition));
  return `pgflow.add_step(${args.join(', ')})`;
}

/** The function calls (without `SELECT`) that create the flow, in order. */
export function flowCalls(flow: AnyFlow): string[] {
  const calls = [`pgflow.create_flow(${[sqlLiteral(flow.slug), ...namedOptions(flow.options)].join(', ')})`];
  for (const step of flow.steps) calls.push(stepCall(flow.slug, step));
  return calls;
}

/**
 * The SQL statements that create the flow, one per array element, each ending with `;`.
 *
 * @example
 * ```ts
 * import { compileFlow, Flow } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * console.log(compileFlow(hello).join('\n'));
 * // SELECT pgflow.create_flow('hello');
 * // SELECT pgflow.add_step('hello', 'greet');
 * ```
 */
export function compileFlow(flow: AnyFlow): string[] {
  return flowCalls(flow).map((call) => `SELECT ${call};`);
}

/**
 * The flow's statements as one SQL script with a header comment, ready to be
 * written as a migration file (each statement on its own line).
 *
 * @example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { compileFlowScript, Flow } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * writeFileSync('migrations/0042_flow_hello.sql', compileFlowScript(hello));
 * ```
 */
export function compileFlowScript(flow: AnyFlow): string {
  return [`-- pgflow flow "${flow.slug}": ${flow.steps.length} step${flow.steps.length === 1 ? '' : 's'}`, ...compileFlow(flow)].join('\n') + '\n';
}

/**
 * One statement that creates the flow atomically (a DO block), for drivers
 * that send one statement at a time. The block's dollar quote is one that
 * appears nowhere in its body (a condition pattern may hold any text).
 */
export function compileFlowBlock(flow: AnyFlow, prelude: readonly string[] = []): string {
  const body = [...prelude, ...flowCalls(flow).map((call) => `PERFORM ${call};`)].map((line) => `  ${line}`).join('\n');
  let tag = '$pgflow$';
  for (let n = 1; body.includes(tag); n++) tag = `$pgflow_${n}$`;
  return `DO ${tag}\nBEGIN\n${body}\nEND\n${tag};`;
}
