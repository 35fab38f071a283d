/**
 * Keeps the flow definitions in the database in step with the code.
 *
 * `ensureFlow(db, flow)` reads the flow from pgflow.flows / steps / deps and
 * compares it with the code: the set of steps, each step's dependencies and
 * type ('single', or 'map' for `.map()` steps), every option (a flow option
 * missing in code means the engine default: 3 attempts, 5 s base delay, 60 s
 * timeout; a step option missing in code must be NULL in the database, i.e.
 * inherited from the flow) and each step's condition (a pattern missing in
 * code must be NULL; whenUnmet missing means 'skip', retriesExhausted
 * missing means 'fail'). Patterns are compared as JSON values, whatever the
 * order of their keys. Step order is not compared: it does not change how
 * runs execute.
 *
 * - absent → created (one atomic statement);
 * - identical → nothing happens;
 * - different → FlowDriftError listing every difference, unless
 *   `recreate: true` (development only; it needs pgflow's owner, since it deletes rows), which deletes the flow together
 *   with all of its runs, step states, tasks and queued messages, and
 *   creates it anew, all in one transaction.
 */
import { grantStatement, isPermissionDenied, PgflowAccessError } from '../core/access.js';
import { toExecutor, type PgflowConnection, type SqlExecutor } from '../core/connection.js';
import type { Json, SkipMode, StepType } from '../core/types.js';
import { compileFlowBlock, sqlLiteral } from './compile.js';
import type { AnyFlow, RuntimeOptions, StepRuntimeOptions } from './flow.js';

/** Options a flow gets from create_flow when the code does not set them. */
export const DEFAULT_FLOW_OPTIONS: Readonly<Required<RuntimeOptions>> = Object.freeze({ maxAttempts: 3, baseDelay: 5, timeout: 60 });

/** A flow as stored in the database. */
export interface StoredFlowDefinition {
  slug: string;
  options: Required<RuntimeOptions>;
  steps: StoredStepDefinition[];
}

export interface StoredStepDefinition {
  slug: string;
  stepType: StepType;
  stepIndex: number;
  /** Sorted. */
  dependsOn: string[];
  /** null: inherited from the flow (or, for startDelay, none). */
  options: { [K in keyof StepRuntimeOptions]-?: number | null };
  condition: StoredStepCondition;
}

/** A step's condition as stored: patterns (null when none) and both modes. */
export interface StoredStepCondition {
  requiredInputPattern: { [key: string]: Json } | null;
  forbiddenInputPattern: { [key: string]: Json } | null;
  whenUnmet: SkipMode;
  whenExhausted: SkipMode;
}

/** What add_step stores for a condition setting the code leaves out. */
export const DEFAULT_STEP_CONDITION: Readonly<Pick<StoredStepCondition, 'whenUnmet' | 'whenExhausted'>> = Object.freeze({ whenUnmet: 'skip', whenExhausted: 'fail' });

export interface FlowDifference {
  /** What differs, e.g. `timeout`, `step "parse" dependencies`. */
  subject: string;
  database: string;
  code: string;
}

/**
 * The flow stored in the database differs from its definition in code; `differences` lists each, and the message prints them.
 *
 * @example
 * ```ts
 * import { ensureFlow, Flow, FlowDriftError } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * await ensureFlow(pool, hello).catch((error: unknown) => {
 *   if (error instanceof FlowDriftError) console.error(error.message); // lists every difference
 *   else throw error;
 * });
 * ```
 */
export class FlowDriftError extends Error {
  readonly flowSlug: string;
  readonly differences: FlowDifference[];

  constructor(flowSlug: string, differences: FlowDifference[]) {
    const lines = differences.map((difference) => `  - ${difference.subject}: database ${difference.database}, code ${difference.code}`);
    super(
      `flow "${flowSlug}" in the database differs from its definition in code:\n${lines.join('\n')}\n` +
        'A flow definition cannot change while it exists: give the changed flow a new slug (e.g. a version suffix), ' +
        'or, in development only, pass { recreate: true } to delete the flow and its runs and create it again.',
    );
    this.name = 'FlowDriftError';
    this.flowSlug = flowSlug;
    this.differences = differences;
  }
}

export interface EnsureFlowOptions {
  /** Development only: when the stored flow differs, delete it with all its runs and create it from the code. */
  recreate?: boolean;
}

export interface EnsureFlowResult {
  status: 'created' | 'unchanged' | 'recreated';
  /** What differed before a recreation (empty otherwise). */
  differences: FlowDifference[];
}

interface DefinitionRow {
  flow: { flow_slug: string; opt_max_attempts: number; opt_base_delay: number; opt_timeout: number } | null;
  steps: {
    step_slug: string;
    step_type: StepType;
    step_index: number;
    opt_max_attempts: number | null;
    opt_base_delay: number | null;
    opt_timeout: number | null;
    opt_start_delay: number | null;
    required_input_pattern: { [key: string]: Json } | null;
    forbidden_input_pattern: { [key: string]: Json } | null;
    when_unmet: SkipMode;
    when_exhausted: SkipMode;
    deps: string[];
  }[];
}

const READ_DEFINITION = `
select
  (select to_jsonb(f) from pgflow.flows f where f.flow_slug = $1::text) as flow,
  coalesce((
    select jsonb_agg(to_jsonb(s) || jsonb_build_object('deps', coalesce((
      select jsonb_agg(d.dep_slug order by d.dep_slug)
      from pgflow.deps d
      where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug
    ), '[]'::jsonb)) order by s.step_index)
    from pgflow.steps s
    where s.flow_slug = $1::text
  ), '[]'::jsonb) as steps`;

/** The flow as stored in the database, or null when there is no flow with this slug. */
export async function readFlowDefinition(db: PgflowConnection, flowSlug: string): Promise<StoredFlowDefinition | null> {
  const [row] = await toExecutor(db).query<DefinitionRow>(READ_DEFINITION, [flowSlug]);
  if (!row?.flow) return null;
  return {
    slug: row.flow.flow_slug,
    options: { maxAttempts: row.flow.opt_max_attempts, baseDelay: row.flow.opt_base_delay, timeout: row.flow.opt_timeout },
    steps: row.steps.map((step) => ({
      slug: step.step_slug,
      stepType: step.step_type,
      stepIndex: step.step_index,
      dependsOn: [...step.deps].sort(),
      options: { maxAttempts: step.opt_max_attempts, baseDelay: step.opt_base_delay, timeout: step.opt_timeout, startDelay: step.opt_start_delay },
      condition: {
        requiredInputPattern: step.required_input_pattern,
        forbiddenInputPattern: step.forbidden_input_pattern,
        whenUnmet: step.when_unmet,
        whenExhausted: step.when_exhausted,
      },
    })),
  };
}

const OPTION_KEYS = ['maxAttempts', 'baseDelay', 'timeout', 'startDelay'] as const;

/** JSON text with object keys sorted at every level, so equal JSON values give equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, item]) => item !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const patternText = (pattern: unknown) => (pattern === null || pattern === undefined ? 'none' : JSON.stringify(pattern));

/** The differences between a step's condition in the database and in code. */
function conditionDifferences(slug: string, stored: StoredStepCondition, code: AnyFlow['steps'][number]['condition']): FlowDifference[] {
  const differences: FlowDifference[] = [];
  const patterns = [
    ['requiredInputPattern', 'if'],
    ['forbiddenInputPattern', 'ifNot'],
  ] as const;
  for (const [key, option] of patterns) {
    const codePattern = code[key] ?? null;
    const same = codePattern === null || stored[key] === null ? codePattern === stored[key] : canonicalJson(codePattern) === canonicalJson(stored[key]);
    if (!same) differences.push({ subject: `step "${slug}" ${option} (${key === 'requiredInputPattern' ? 'required' : 'forbidden'}_input_pattern)`, database: patternText(stored[key]), code: patternText(codePattern) });
  }
  const modes = [
    ['whenUnmet', 'whenUnmet (when_unmet)'],
    ['whenExhausted', 'retriesExhausted (when_exhausted)'],
  ] as const;
  for (const [key, subject] of modes) {
    const codeMode = code[key] ?? DEFAULT_STEP_CONDITION[key];
    if (codeMode !== stored[key]) {
      differences.push({ subject: `step "${slug}" ${subject}`, database: `'${stored[key]}'`, code: `'${codeMode}'${code[key] === undefined ? ' (default)' : ''}` });
    }
  }
  return differences;
}
const listText = (items: readonly string[]) => `[${items.join(', ')}]`;
const stepOptionText = (value: number | null | undefined, key: keyof StepRuntimeOptions) =>
  value === null || value === undefined ? (key === 'startDelay' ? 'not set' : 'not set (flow value)') : String(value);

/** Every difference between the stored flow and the code (empty when they match). */
export function diffFlow(flow: AnyFlow, stored: StoredFlowDefinition): FlowDifference[] {
  const differences: FlowDifference[] = [];
  for (const key of ['maxAttempts', 'baseDelay', 'timeout'] as const) {
    const code = flow.options[key] ?? DEFAULT_FLOW_OPTIONS[key];
    if (stored.options[key] !== code) {
      differences.push({ subject: `flow ${key}`, database: String(stored.options[key]), code: `${code}${flow.options[key] === undefined ? ' (default)' : ''}` });
    }
  }
  const storedSteps = new Map(stored.steps.map((step) => [step.slug, step]));
  const codeSlugs = new Set(flow.steps.map((step) => step.slug));
  for (const step of flow.steps) {
    const existing = storedSteps.get(step.slug);
    if (!existing) {
      differences.push({ subject: `step "${step.slug}"`, database: 'missing', code: `defined (dependsOn ${listText(step.dependsOn)})` });
      continue;
    }
    const codeDeps = [...step.dependsOn].sort();
    if (listText(codeDeps) !== listText(existing.dependsOn)) {
      differences.push({ subject: `step "${step.slug}" dependencies`, database: listText(existing.dependsOn), code: listText(codeDeps) });
    }
    if (existing.stepType !== step.stepType) differences.push({ subject: `step "${step.slug}" type`, database: existing.stepType, code: step.stepType });
    for (const key of OPTION_KEYS) {
      const code = step.options[key] ?? null;
      if (existing.options[key] !== code) {
        differences.push({ subject: `step "${step.slug}" ${key}`, database: stepOptionText(existing.options[key], key), code: stepOptionText(code, key) });
      }
    }
    differences.push(...conditionDifferences(step.slug, existing.condition, step.condition));
  }
  for (const step of stored.steps) {
    if (!codeSlugs.has(step.slug)) {
      differences.push({ subject: `step "${step.slug}"`, database: `defined (dependsOn ${listText(step.dependsOn)})`, code: 'missing' });
    }
  }
  return differences;
}

/** Statements (inside the DO block) that delete a flow and everything of it. */
function deletionStatements(flowSlug: string): string[] {
  const slug = sqlLiteral(flowSlug);
  return [
    `PERFORM pg_advisory_xact_lock(hashtext('pgflow-orm:flow:' || ${slug}));`,
    `DELETE FROM pgflow.step_tasks WHERE flow_slug = ${slug};`,
    `DELETE FROM pgflow.step_states WHERE flow_slug = ${slug};`,
    `DELETE FROM pgflow.runs WHERE flow_slug = ${slug};`,
    `DELETE FROM pgflow.deps WHERE flow_slug = ${slug};`,
    `DELETE FROM pgflow.steps WHERE flow_slug = ${slug};`,
    `DELETE FROM pgflow.flows WHERE flow_slug = ${slug};`,
    `IF EXISTS (SELECT 1 FROM pgmq.meta WHERE queue_name = ${slug}) THEN PERFORM pgmq.purge_queue(${slug}); END IF;`,
  ];
}

/** A permission error while creating a flow, explained: who may create flows, and the other way to ship one. */
async function creationDenied(executor: SqlExecutor, error: unknown, flowSlug: string): Promise<unknown> {
  if (!isPermissionDenied(error)) return error;
  const [row] = await executor.query<{ role: string }>('select current_user as role').catch(() => []);
  const role = row?.role;
  return new PgflowAccessError(
    `flow "${flowSlug}" is not in the database, and role ${role === undefined ? '(unknown)' : `"${role}"`} may not create it (${error.message}). ` +
      `Create it as a role with pgflow's admin access level (${grantStatement('admin', role)} grants it; ` +
      `then run ensureFlow or the worker once as that role), or ship it in a migration (pgflow-orm compile).`,
    role,
    'admin',
    error,
  );
}

/**
 * Makes sure the database holds exactly this flow definition: creates it when
 * absent, does nothing when it matches, and throws a FlowDriftError when it
 * differs (or recreates it with `recreate: true`; see the module comment).
 *
 * @example
 * ```ts
 * import { ensureFlow, Flow } from 'pgflow-orm';
 *
 * const hello = new Flow<{ name: string }>({ slug: 'hello' }).step({ slug: 'greet' }, ({ run }) => `Hello, ${run.name}!`);
 * const result = await ensureFlow(pool, hello); // creates it, or checks that the stored flow matches
 * console.log(result);
 * ```
 */
export async function ensureFlow(db: PgflowConnection, flow: AnyFlow, options: EnsureFlowOptions = {}): Promise<EnsureFlowResult> {
  const executor = toExecutor(db);
  const stored = await readFlowDefinition(executor, flow.slug);
  if (!stored) {
    try {
      await executor.query(compileFlowBlock(flow));
    } catch (error) {
      throw await creationDenied(executor, error, flow.slug);
    }
    return { status: 'created', differences: [] };
  }
  const differences = diffFlow(flow, stored);
  if (differences.length === 0) return { status: 'unchanged', differences };
  if (!options.recreate) throw new FlowDriftError(flow.slug, differences);
  await executor.query(compileFlowBlock(flow, deletionStatements(flow.slug)));
  return { status: 'recreated', differences };
}
