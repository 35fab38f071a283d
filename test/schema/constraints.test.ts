/**
 * The constraints drizzle-kit's drift check cannot vouch for: every CHECK
 * constraint rejects a row that breaks it and accepts one that keeps it,
 * every foreign key rejects a dangling reference, and the indexes the
 * reference's "Indexing" section lists exist.
 *
 * Each statement runs in a transaction that is rolled back, against a small
 * fixed data set inserted directly (not through the engine), so a case sees
 * exactly the rows below.
 */
import { randomUUID } from 'node:crypto';
import { getTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import * as schema from '../../schema.js';
import { useLocalPool } from '../adapters/pool.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

const pool = useLocalPool(db);

const query = async <R = Record<string, unknown>>(text: string, values?: unknown[]) => (await pool().query(text, values)).rows as R[];

const RUN = '00000000-0000-4000-8000-000000000001';
const WORKER = '00000000-0000-4000-8000-000000000002';
const OTHER_UUID = '00000000-0000-4000-8000-0000000000ff';
/** Timestamps in increasing order. */
const T0 = `'2024-01-01 00:00:00+00'`;
const T1 = `'2024-01-01 01:00:00+00'`;
const T2 = `'2024-01-01 02:00:00+00'`;
const T3 = `'2024-01-01 03:00:00+00'`;
const T4 = `'2024-01-01 04:00:00+00'`;

/**
 * Flow `ck` with steps `a` -> `b`, one run whose step `a` is started (its
 * task queued, message 1) and `b` created, and one worker.
 */
const FIXTURE = `
  insert into pgflow.flows (flow_slug, created_at) values ('ck', ${T0});
  insert into pgflow.steps (flow_slug, step_slug, step_index, deps_count, created_at) values ('ck', 'a', 0, 0, ${T0}), ('ck', 'b', 1, 1, ${T0});
  insert into pgflow.deps (flow_slug, dep_slug, step_slug, created_at) values ('ck', 'a', 'b', ${T0});
  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps, started_at) values ('${RUN}', 'ck', '{}', 2, ${T1});
  insert into pgflow.step_states (flow_slug, run_id, step_slug, status, remaining_tasks, remaining_deps, initial_tasks, created_at, started_at)
    values ('ck', '${RUN}', 'a', 'started', 1, 0, 1, ${T1}, ${T2}), ('ck', '${RUN}', 'b', 'created', null, 1, null, ${T1}, null);
  insert into pgflow.workers (worker_id, queue_name, function_name, started_at, last_heartbeat_at) values ('${WORKER}', 'ck', 'handler', ${T1}, ${T1});
  insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, status, message_id, queued_at) values ('ck', '${RUN}', 'a', 0, 'queued', 1, ${T2});
`;

interface ConstraintCase {
  table: string;
  constraint: string;
  /** Statements that must each fail on this constraint. */
  bad: string[];
  /** Statements that must each succeed. */
  good: string[];
  /** Constraints dropped (inside the rolled-back transaction) so that only `constraint` can fail. */
  isolate?: string[];
}

let client: pg.Client;

/** Runs the statements in a transaction that is rolled back; returns the error, if any. */
async function attempt(statement: string, isolate: { table: string; constraints: string[] } = { table: '', constraints: [] }) {
  await client.query('begin');
  try {
    for (const constraint of isolate.constraints) await client.query(`alter table pgflow.${isolate.table} drop constraint ${constraint}`);
    await client.query(statement);
    return null;
  } catch (error) {
    return error as pg.DatabaseError;
  } finally {
    await client.query('rollback');
  }
}

async function expectCase(testCase: ConstraintCase, code: string) {
  const isolate = { table: testCase.table, constraints: testCase.isolate ?? [] };
  expect(testCase.bad.length).toBeGreaterThan(0);
  for (const statement of testCase.bad) {
    const error = await attempt(statement, isolate);
    expect({ statement, code: error?.code, table: error?.table, constraint: error?.constraint }).toEqual({
      statement,
      code,
      table: testCase.table,
      constraint: testCase.constraint,
    });
  }
  for (const statement of testCase.good) {
    const error = await attempt(statement, isolate);
    expect({ statement, error: error?.message ?? null }).toEqual({ statement, error: null });
  }
}

const stepSlug = (length: number) => 's'.repeat(length);
const flowSlug = (length: number) => 'f'.repeat(length);

const insertFlow = (slug: string, column?: string, value?: string) =>
  column === undefined ? `insert into pgflow.flows (flow_slug) values ('${slug}')` : `insert into pgflow.flows (flow_slug, ${column}) values ('${slug}', ${value})`;
const insertStep = (slug: string, columns = '', values = '') =>
  `insert into pgflow.steps (flow_slug, step_slug, step_index${columns ? ', ' + columns : ''}) values ('ck', '${slug}', 2${values ? ', ' + values : ''})`;
const insertRun = (columns: string, values: string) => `insert into pgflow.runs (flow_slug, input, ${columns}) values ('ck', '{}', ${values})`;
const updateStepState = (step: 'a' | 'b', set: string) => `update pgflow.step_states set ${set} where run_id = '${RUN}' and step_slug = '${step}'`;
const insertSchedule = (name: string, input = `'{}'`) =>
  `insert into pgflow.schedules (flow_slug, schedule_name, cron, input) values ('ck', ${name}, '* * * * *', ${input})`;
const updateTask = (set: string) => `update pgflow.step_tasks set ${set} where run_id = '${RUN}' and step_slug = 'a' and task_index = 0`;

const CHECKS: ConstraintCase[] = [
  // flows
  {
    table: 'flows',
    constraint: 'slug_is_valid',
    bad: [insertFlow('run'), insertFlow('1flow'), insertFlow('has-dash'), insertFlow('has space'), insertFlow(''), insertFlow(flowSlug(48))],
    good: [insertFlow(flowSlug(47)), insertFlow('_Flow_2')],
  },
  { table: 'flows', constraint: 'opt_max_attempts_is_nonnegative', bad: [insertFlow('x', 'opt_max_attempts', '-1')], good: [insertFlow('x', 'opt_max_attempts', '0')] },
  { table: 'flows', constraint: 'opt_base_delay_is_nonnegative', bad: [insertFlow('x', 'opt_base_delay', '-1')], good: [insertFlow('x', 'opt_base_delay', '0')] },
  { table: 'flows', constraint: 'opt_timeout_is_positive', bad: [insertFlow('x', 'opt_timeout', '0'), insertFlow('x', 'opt_timeout', '-5')], good: [insertFlow('x', 'opt_timeout', '1')] },
  // steps
  {
    table: 'steps',
    constraint: 'steps_step_slug_check',
    bad: [insertStep('run'), insertStep('9lives'), insertStep('a-b'), insertStep(''), insertStep(stepSlug(129))],
    good: [insertStep(stepSlug(128)), insertStep('_c9')],
  },
  { table: 'steps', constraint: 'steps_step_type_check', bad: [insertStep('c', 'step_type', `'loop'`)], good: [insertStep('c', 'step_type', `'map'`), insertStep('c', 'step_type', `'single'`)] },
  { table: 'steps', constraint: 'steps_deps_count_check', bad: [insertStep('c', 'deps_count', '-1')], good: [insertStep('c', 'deps_count', '0')] },
  {
    table: 'steps',
    constraint: 'opt_max_attempts_is_nonnegative',
    bad: [insertStep('c', 'opt_max_attempts', '-1')],
    good: [insertStep('c', 'opt_max_attempts', '0'), insertStep('c', 'opt_max_attempts', 'null')],
  },
  {
    table: 'steps',
    constraint: 'opt_base_delay_is_nonnegative',
    bad: [insertStep('c', 'opt_base_delay', '-1')],
    good: [insertStep('c', 'opt_base_delay', '0'), insertStep('c', 'opt_base_delay', 'null')],
  },
  {
    table: 'steps',
    constraint: 'opt_timeout_is_positive',
    bad: [insertStep('c', 'opt_timeout', '0')],
    good: [insertStep('c', 'opt_timeout', '1'), insertStep('c', 'opt_timeout', 'null')],
  },
  {
    table: 'steps',
    constraint: 'opt_start_delay_is_nonnegative',
    bad: [insertStep('c', 'opt_start_delay', '-1')],
    good: [insertStep('c', 'opt_start_delay', '0'), insertStep('c', 'opt_start_delay', 'null')],
  },
  {
    table: 'steps',
    constraint: 'required_input_pattern_is_object',
    bad: [insertStep('c', 'required_input_pattern', `'[1]'`), insertStep('c', 'required_input_pattern', `'"text"'`)],
    good: [insertStep('c', 'required_input_pattern', `'{"run": {"a": 1}}'`), insertStep('c', 'required_input_pattern', 'null')],
  },
  {
    table: 'steps',
    constraint: 'forbidden_input_pattern_is_object',
    bad: [insertStep('c', 'forbidden_input_pattern', `'1'`)],
    good: [insertStep('c', 'forbidden_input_pattern', `'{}'`), insertStep('c', 'forbidden_input_pattern', 'null')],
  },
  {
    table: 'steps',
    constraint: 'when_unmet_is_valid',
    bad: [insertStep('c', 'when_unmet', `'ignore'`), insertStep('c', 'when_unmet', `'Skip'`)],
    good: ['fail', 'skip', 'skip-cascade'].map((mode) => insertStep('c', 'when_unmet', `'${mode}'`)),
  },
  {
    table: 'steps',
    constraint: 'when_exhausted_is_valid',
    bad: [insertStep('c', 'when_exhausted', `'retry'`)],
    good: ['fail', 'skip', 'skip-cascade'].map((mode) => insertStep('c', 'when_exhausted', `'${mode}'`)),
  },
  // deps
  {
    table: 'deps',
    constraint: 'deps_check',
    bad: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'a', 'a')`],
    good: [`${insertStep('c')}; insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'a', 'c')`],
  },
  // runs
  {
    table: 'runs',
    // 'done' also breaks status_matches_timestamps; PostgreSQL tests CHECKs in name order, so status_is_valid reports.
    constraint: 'status_is_valid',
    bad: [insertRun('status', `'done'`), insertRun('status', `'queued'`)],
    good: [insertRun('status', `'started'`)],
  },
  { table: 'runs', constraint: 'runs_remaining_steps_check', bad: [insertRun('remaining_steps', '-1')], good: [insertRun('remaining_steps', '0')] },
  {
    table: 'runs',
    constraint: 'completed_at_or_failed_at',
    bad: [insertRun('status, started_at, completed_at, failed_at', `'failed', ${T1}, ${T2}, ${T2}`), insertRun('status, started_at, completed_at, failed_at', `'completed', ${T1}, ${T2}, ${T2}`)],
    good: [insertRun('status, started_at, failed_at', `'failed', ${T1}, ${T2}`)],
  },
  {
    table: 'runs',
    constraint: 'completed_at_is_after_started_at',
    bad: [insertRun('status, started_at, completed_at', `'completed', ${T2}, ${T1}`)],
    good: [insertRun('status, started_at, completed_at', `'completed', ${T2}, ${T2}`)],
  },
  {
    table: 'runs',
    constraint: 'failed_at_is_after_started_at',
    bad: [insertRun('status, started_at, failed_at', `'failed', ${T2}, ${T1}`)],
    good: [insertRun('status, started_at, failed_at', `'failed', ${T1}, ${T2}`)],
  },
  {
    table: 'runs',
    constraint: 'status_matches_timestamps',
    bad: [
      insertRun('status, started_at', `'completed', ${T1}`),
      insertRun('status, started_at, failed_at', `'completed', ${T1}, ${T2}`),
      insertRun('status, started_at', `'failed', ${T1}`),
      insertRun('status, started_at, completed_at', `'failed', ${T1}, ${T2}`),
      insertRun('status, started_at, completed_at', `'started', ${T1}, ${T2}`),
      insertRun('status, started_at, failed_at', `'started', ${T1}, ${T2}`),
      insertRun('status, started_at, cancelled_at', `'started', ${T1}, ${T2}`),
      insertRun('status, started_at', `'cancelled', ${T1}`),
      `update pgflow.runs set status = 'completed' where run_id = '${RUN}'`,
    ],
    good: [
      insertRun('status, started_at', `'started', ${T1}`),
      insertRun('status, started_at, completed_at', `'completed', ${T1}, ${T2}`),
      insertRun('status, started_at, cancelled_at', `'cancelled', ${T1}, ${T2}`),
      `update pgflow.runs set status = 'completed', completed_at = ${T3} where run_id = '${RUN}'`,
    ],
  },
  {
    table: 'runs',
    constraint: 'cancelled_at_is_after_started_at',
    bad: [insertRun('status, started_at, cancelled_at', `'cancelled', ${T2}, ${T1}`)],
    good: [insertRun('status, started_at, cancelled_at', `'cancelled', ${T1}, ${T2}`)],
  },
  // step_states
  {
    table: 'step_states',
    constraint: 'status_is_valid',
    bad: [updateStepState('b', `status = 'waiting'`), updateStepState('b', `status = 'queued'`)],
    good: [
      updateStepState('b', `status = 'failed', failed_at = ${T3}`),
      updateStepState('b', `status = 'skipped', skipped_at = ${T3}, skip_reason = 'condition_unmet'`),
      updateStepState('b', `status = 'cancelled', cancelled_at = ${T3}`),
    ],
  },
  {
    table: 'step_states',
    constraint: 'cancelled_at_matches_status',
    bad: [updateStepState('b', `status = 'cancelled'`), updateStepState('b', `cancelled_at = ${T3}`)],
    good: [updateStepState('a', `status = 'cancelled', cancelled_at = ${T3}`)],
  },
  {
    table: 'step_states',
    constraint: 'skipped_at_matches_status',
    bad: [updateStepState('b', `status = 'skipped', skip_reason = 'condition_unmet'`), updateStepState('b', `skipped_at = ${T3}`)],
    good: [updateStepState('b', `status = 'skipped', skipped_at = ${T3}, skip_reason = 'dependency_skipped'`)],
  },
  {
    table: 'step_states',
    constraint: 'skip_reason_matches_status',
    bad: [updateStepState('b', `status = 'skipped', skipped_at = ${T3}`), updateStepState('b', `skip_reason = 'condition_unmet'`)],
    good: [updateStepState('a', `status = 'skipped', skipped_at = ${T3}, skip_reason = 'handler_failed'`)],
  },
  {
    table: 'step_states',
    constraint: 'skip_reason_is_valid',
    bad: [updateStepState('b', `status = 'skipped', skipped_at = ${T3}, skip_reason = 'because'`)],
    good: ['condition_unmet', 'handler_failed', 'dependency_skipped'].map((reason) => updateStepState('b', `status = 'skipped', skipped_at = ${T3}, skip_reason = '${reason}'`)),
  },
  {
    table: 'step_states',
    constraint: 'skipped_at_is_after_created_at',
    bad: [updateStepState('b', `status = 'skipped', skipped_at = ${T0}, skip_reason = 'condition_unmet'`)],
    good: [updateStepState('b', `status = 'skipped', skipped_at = ${T1}, skip_reason = 'condition_unmet'`)],
  },
  { table: 'step_states', constraint: 'step_states_remaining_deps_check', bad: [updateStepState('b', 'remaining_deps = -1')], good: [updateStepState('b', 'remaining_deps = 0')] },
  { table: 'step_states', constraint: 'step_states_remaining_tasks_check', bad: [updateStepState('a', 'remaining_tasks = -1')], good: [updateStepState('a', 'remaining_tasks = 0')] },
  { table: 'step_states', constraint: 'step_states_initial_tasks_check', bad: [updateStepState('a', 'initial_tasks = -1')], good: [updateStepState('a', 'initial_tasks = 0')] },
  {
    table: 'step_states',
    constraint: 'status_and_remaining_tasks_match',
    // (Like pgflow 0.8.1's, the body is `status <> 'completed' or remaining_tasks = 0`, so NULL remaining_tasks passes it.)
    bad: [updateStepState('a', `status = 'completed', completed_at = ${T3}`), updateStepState('a', `status = 'completed', completed_at = ${T3}, remaining_tasks = 2`)],
    good: [updateStepState('a', `status = 'completed', completed_at = ${T3}, remaining_tasks = 0`)],
  },
  {
    table: 'step_states',
    constraint: 'remaining_tasks_state_consistency',
    bad: [updateStepState('b', 'remaining_tasks = 1'), updateStepState('b', 'remaining_tasks = 0')],
    good: [updateStepState('b', `status = 'started', started_at = ${T2}, remaining_tasks = 1, initial_tasks = 1`)],
  },
  {
    table: 'step_states',
    constraint: 'initial_tasks_known_when_started',
    bad: [updateStepState('a', 'initial_tasks = null'), updateStepState('b', `status = 'started', started_at = ${T2}`)],
    good: [updateStepState('b', `status = 'started', started_at = ${T2}, initial_tasks = 1`)],
  },
  {
    table: 'step_states',
    constraint: 'completed_at_or_failed_at',
    bad: [updateStepState('a', `status = 'failed', completed_at = ${T3}, failed_at = ${T3}`)],
    good: [updateStepState('a', `status = 'failed', failed_at = ${T3}`)],
  },
  {
    table: 'step_states',
    constraint: 'started_at_is_after_created_at',
    bad: [updateStepState('a', `started_at = ${T0}`)],
    good: [updateStepState('a', `started_at = ${T1}`)],
  },
  {
    table: 'step_states',
    constraint: 'completed_at_is_after_started_at',
    bad: [updateStepState('a', `status = 'completed', remaining_tasks = 0, completed_at = ${T1}`)],
    good: [updateStepState('a', `status = 'completed', remaining_tasks = 0, completed_at = ${T2}`)],
  },
  {
    table: 'step_states',
    constraint: 'failed_at_is_after_started_at',
    bad: [updateStepState('a', `status = 'failed', failed_at = ${T1}`)],
    good: [updateStepState('a', `status = 'failed', failed_at = ${T2}`)],
  },
  // step_tasks
  {
    table: 'step_tasks',
    constraint: 'valid_status',
    bad: [updateTask(`status = 'done'`), updateTask(`status = 'created'`)],
    good: [updateTask(`status = 'started', started_at = ${T3}`), updateTask(`status = 'cancelled', cancelled_at = ${T3}`)],
  },
  {
    table: 'step_tasks',
    constraint: 'cancelled_at_matches_status',
    bad: [updateTask(`status = 'cancelled'`), updateTask(`cancelled_at = ${T3}`)],
    good: [updateTask(`status = 'cancelled', cancelled_at = ${T3}`)],
  },
  // schedules
  {
    table: 'schedules',
    constraint: 'schedule_name_is_valid',
    bad: [insertSchedule(`'has space'`), insertSchedule(`'9am'`), insertSchedule(`'${'s'.repeat(129)}'`)],
    good: [insertSchedule(`'nightly_2'`), insertSchedule(`'_${'s'.repeat(127)}'`)],
  },
  {
    table: 'schedules',
    constraint: 'input_is_json_value',
    bad: [insertSchedule(`'x'`, `'"text"'`), insertSchedule(`'x'`, `'1'`)],
    good: [insertSchedule(`'x'`, `'[1]'`), insertSchedule(`'y'`, `'{}'`)],
  },
  // role_access
  {
    table: 'role_access',
    constraint: 'access_is_valid',
    bad: [`insert into pgflow.role_access (role_name, access) values ('someone', 'operator')`, `insert into pgflow.role_access (role_name, access) values ('someone', 'Worker')`],
    good: [`insert into pgflow.role_access (role_name, access) values ('someone', 'worker')`, `insert into pgflow.role_access (role_name, access) values ('someone', 'admin')`],
  },
  { table: 'step_tasks', constraint: 'attempts_count_nonnegative', bad: [updateTask('attempts_count = -1')], good: [updateTask('attempts_count = 0')] },
  {
    table: 'step_tasks',
    constraint: 'task_index_nonnegative',
    bad: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index) values ('ck', '${RUN}', 'a', -1)`],
    good: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index) values ('ck', '${RUN}', 'a', 1)`],
  },
  {
    table: 'step_tasks',
    constraint: 'output_valid_only_for_completed',
    bad: [updateTask(`output = '{"x": 1}'`), updateTask(`output = 'null'`), updateTask(`status = 'started', started_at = ${T3}, output = '{"x": 1}'`)],
    good: [
      updateTask(`status = 'completed', started_at = ${T3}, completed_at = ${T4}, output = '{"x": 1}'`),
      updateTask(`status = 'failed', failed_at = ${T4}, output = '"partial"'`),
    ],
  },
  {
    table: 'step_tasks',
    constraint: 'completed_at_or_failed_at',
    bad: [updateTask(`status = 'failed', completed_at = ${T3}, failed_at = ${T3}`)],
    good: [updateTask(`status = 'failed', failed_at = ${T3}`)],
  },
  { table: 'step_tasks', constraint: 'started_at_is_after_queued_at', bad: [updateTask(`started_at = ${T1}`)], good: [updateTask(`started_at = ${T2}`)] },
  { table: 'step_tasks', constraint: 'completed_at_is_after_queued_at', bad: [updateTask(`status = 'completed', completed_at = ${T1}`)], good: [updateTask(`status = 'completed', completed_at = ${T2}`)] },
  { table: 'step_tasks', constraint: 'failed_at_is_after_queued_at', bad: [updateTask(`status = 'failed', failed_at = ${T1}`)], good: [updateTask(`status = 'failed', failed_at = ${T2}`)] },
  {
    table: 'step_tasks',
    constraint: 'completed_at_is_after_started_at',
    bad: [updateTask(`status = 'completed', started_at = ${T4}, completed_at = ${T3}`)],
    good: [updateTask(`status = 'completed', started_at = ${T3}, completed_at = ${T3}`)],
  },
  {
    table: 'step_tasks',
    constraint: 'failed_at_is_after_started_at',
    bad: [updateTask(`status = 'failed', started_at = ${T4}, failed_at = ${T3}`)],
    good: [updateTask(`status = 'failed', started_at = ${T3}, failed_at = ${T4}`)],
  },
  // workers
  {
    table: 'workers',
    constraint: 'stopped_at_is_after_started_at',
    bad: [`update pgflow.workers set stopped_at = ${T0} where worker_id = '${WORKER}'`],
    good: [`update pgflow.workers set stopped_at = ${T1} where worker_id = '${WORKER}'`],
  },
];

const UNIQUES: ConstraintCase[] = [
  {
    table: 'steps',
    constraint: 'steps_flow_slug_step_index_key',
    bad: [`insert into pgflow.steps (flow_slug, step_slug, step_index) values ('ck', 'c', 1)`],
    good: [`insert into pgflow.steps (flow_slug, step_slug, step_index) values ('ck', 'c', 2)`],
  },
];

const FOREIGN_KEYS: ConstraintCase[] = [
  { table: 'steps', constraint: 'steps_flow_slug_fkey', bad: [`insert into pgflow.steps (flow_slug, step_slug) values ('nope', 'a')`], good: [insertStep('c')] },
  {
    table: 'deps',
    constraint: 'deps_flow_slug_fkey',
    // A dangling flow also dangles the (flow, step) references; drop those to see this one act alone.
    isolate: ['deps_flow_slug_dep_slug_fkey', 'deps_flow_slug_step_slug_fkey'],
    bad: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('nope', 'a', 'b')`],
    good: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'b', 'a')`],
  },
  {
    table: 'deps',
    constraint: 'deps_flow_slug_dep_slug_fkey',
    bad: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'zz', 'b')`],
    good: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'b', 'a')`],
  },
  {
    table: 'deps',
    constraint: 'deps_flow_slug_step_slug_fkey',
    bad: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'b', 'zz')`],
    good: [`insert into pgflow.deps (flow_slug, dep_slug, step_slug) values ('ck', 'b', 'a')`],
  },
  { table: 'runs', constraint: 'runs_flow_slug_fkey', bad: [`insert into pgflow.runs (flow_slug, input) values ('nope', '{}')`], good: [insertRun('status', `'started'`)] },
  { table: 'schedules', constraint: 'schedules_flow_slug_fkey', bad: [`insert into pgflow.schedules (flow_slug, schedule_name, cron, input) values ('nope', 's', '* * * * *', '{}')`], good: [insertSchedule(`'s'`)] },
  {
    table: 'schedule_ticks',
    constraint: 'schedule_ticks_schedule_fkey',
    bad: [`insert into pgflow.schedule_ticks (flow_slug, schedule_name, tick, run_id) values ('ck', 'nope', now(), '${RUN}')`],
    good: [`${insertSchedule(`'s'`)}; insert into pgflow.schedule_ticks (flow_slug, schedule_name, tick, run_id) values ('ck', 's', now(), '${RUN}')`],
  },
  {
    table: 'step_states',
    constraint: 'step_states_flow_slug_fkey',
    isolate: ['step_states_flow_slug_step_slug_fkey'],
    bad: [`insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('nope', '${RUN}', 'zz')`],
    good: [`insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'zz')`],
  },
  {
    table: 'step_states',
    constraint: 'step_states_run_id_fkey',
    bad: [`insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('ck', '${OTHER_UUID}', 'a')`],
    good: [`insert into pgflow.runs (run_id, flow_slug, input) values ('${OTHER_UUID}', 'ck', '{}'); insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('ck', '${OTHER_UUID}', 'a')`],
  },
  {
    table: 'step_states',
    constraint: 'step_states_flow_slug_step_slug_fkey',
    bad: [`insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'zz')`],
    good: [`${insertStep('zz')}; insert into pgflow.step_states (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'zz')`],
  },
  {
    table: 'step_tasks',
    constraint: 'step_tasks_flow_slug_fkey',
    bad: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index) values ('nope', '${RUN}', 'a', 1)`],
    good: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index) values ('ck', '${RUN}', 'a', 1)`],
  },
  {
    table: 'step_tasks',
    constraint: 'step_tasks_run_id_fkey',
    isolate: ['step_tasks_run_id_step_slug_fkey'],
    bad: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug) values ('ck', '${OTHER_UUID}', 'a')`],
    good: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'b')`],
  },
  {
    table: 'step_tasks',
    constraint: 'step_tasks_run_id_step_slug_fkey',
    bad: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'zz')`],
    good: [`insert into pgflow.step_tasks (flow_slug, run_id, step_slug) values ('ck', '${RUN}', 'b')`],
  },
  {
    table: 'step_tasks',
    constraint: 'step_tasks_last_worker_id_fkey',
    bad: [updateTask(`last_worker_id = '${OTHER_UUID}'`)],
    good: [updateTask(`last_worker_id = '${WORKER}'`), updateTask('last_worker_id = null')],
  },
];

/** Every table of schema.ts with its SQL name. */
const TABLES: PgTable[] = [schema.flows, schema.steps, schema.deps, schema.runs, schema.stepStates, schema.stepTasks, schema.workers, schema.schedules, schema.scheduleTicks, schema.roleAccess];

const key = (table: string, constraint: string) => `${table}.${constraint}`;

/** Constraints of schema pgflow by kind (contype), as `table.constraint`. PostgreSQL 18 also lists NOT NULL ('n'). */
async function constraintsOfType(contype: 'c' | 'f' | 'u' | 'p'): Promise<string[]> {
  const rows = await query<{ name: string }>(
    `select c.relname || '.' || k.conname as name
       from pg_constraint k join pg_class c on c.oid = k.conrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'pgflow' and k.contype = $1 order by 1`,
    [contype],
  );
  return rows.map((row) => row.name);
}

beforeAll(async () => {
  client = await db.connect();
  await client.query(FIXTURE);
});

describe('check constraints', () => {
  it('every CHECK in the database is one schema.ts declares, and each has a case below', async () => {
    const declared = TABLES.flatMap((table) => {
      const config = getTableConfig(table);
      return config.checks.map((check) => key(config.name, check.name));
    }).sort();
    const inDatabase = await constraintsOfType('c');
    expect(inDatabase).toEqual(declared);
    expect(CHECKS.map((testCase) => key(testCase.table, testCase.constraint)).sort()).toEqual(declared);
  });

  it.each(CHECKS.map((testCase) => [key(testCase.table, testCase.constraint), testCase] as const))('%s rejects a bad row and accepts a good one', async (_, testCase) => {
    await expectCase(testCase, '23514');
  });

  it.each(UNIQUES.map((testCase) => [key(testCase.table, testCase.constraint), testCase] as const))('%s rejects a duplicate', async (_, testCase) => {
    await expectCase(testCase, '23505');
  });
});

describe('keys', () => {
  it('primary keys, unique constraints and foreign keys are those of schema.ts, by name, columns and action', async () => {
    const declared = TABLES.flatMap((table) => {
      const config = getTableConfig(table);
      return [
        ...config.primaryKeys.map((pk) => `${config.name}: primary key ${pk.getName()} (${pk.columns.map((column) => column.name).join(', ')})`),
        // A one-column key is declared on its column; PostgreSQL names it <table>_pkey.
        ...config.columns.filter((column) => column.primary).map((column) => `${config.name}: primary key ${config.name}_pkey (${column.name})`),
        ...config.uniqueConstraints.map((unique) => `${config.name}: unique ${unique.getName()} (${unique.columns.map((column) => column.name).join(', ')})`),
        ...config.foreignKeys.map((fk) => {
          const reference = fk.reference();
          return `${config.name}: foreign key ${fk.getName()} (${reference.columns.map((column) => column.name).join(', ')}) references ${getTableConfig(reference.foreignTable).name} (${reference.foreignColumns.map((column) => column.name).join(', ')}) on delete ${fk.onDelete ?? 'no action'}`;
        }),
      ];
    }).sort();
    const rows = await query<{ description: string }>(
      `select c.relname || ': ' ||
              case k.contype when 'p' then 'primary key ' when 'u' then 'unique ' else 'foreign key ' end || k.conname ||
              ' (' || (select string_agg(a.attname, ', ' order by u.n) from unnest(k.conkey) with ordinality u(attnum, n)
                         join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum) || ')' ||
              case when k.contype = 'f' then
                ' references ' || f.relname || ' (' ||
                (select string_agg(a.attname, ', ' order by u.n) from unnest(k.confkey) with ordinality u(attnum, n)
                   join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum) || ')' ||
                ' on delete ' || case k.confdeltype when 'a' then 'no action' when 'r' then 'restrict' when 'c' then 'cascade' when 'n' then 'set null' when 'd' then 'set default' end
              else '' end as description
         from pg_constraint k
         join pg_class c on c.oid = k.conrelid
         join pg_namespace n on n.oid = c.relnamespace
         left join pg_class f on f.oid = k.confrelid
        where n.nspname = 'pgflow' and k.contype in ('p', 'u', 'f')`,
    );
    expect(rows.map((row) => row.description).sort()).toEqual(declared);
  });

  it('every foreign key has a case below', async () => {
    expect(FOREIGN_KEYS.map((testCase) => key(testCase.table, testCase.constraint)).sort()).toEqual(await constraintsOfType('f'));
  });

  it.each(FOREIGN_KEYS.map((testCase) => [key(testCase.table, testCase.constraint), testCase] as const))('%s rejects a dangling reference', async (_, testCase) => {
    await expectCase(testCase, '23503');
  });

  it('deleting a worker clears last_worker_id on its tasks (on delete set null)', async () => {
    const worker = randomUUID();
    const other = await db.connect();
    await other.query('begin');
    try {
      await other.query(`insert into pgflow.workers (worker_id, queue_name, function_name) values ($1, 'ck', 'handler')`, [worker]);
      await other.query(updateTask(`last_worker_id = '${worker}'`));
      await other.query('delete from pgflow.workers where worker_id = $1', [worker]);
      const { rows } = await other.query(`select last_worker_id from pgflow.step_tasks where run_id = $1 and step_slug = 'a'`, [RUN]);
      expect(rows).toEqual([{ last_worker_id: null }]);
    } finally {
      await other.query('rollback');
    }
  });

  it('deleting a flow that has runs is refused', async () => {
    const error = await attempt(`delete from pgflow.flows where flow_slug = 'ck'`);
    expect(error?.code).toBe('23503');
  });
});

describe('indexes (the reference, "Indexing")', () => {
  /** Each entry: the table and the columns an index must lead with. */
  const REQUIRED: [table: string, columns: string[]][] = [
    ['runs', ['flow_slug']],
    ['runs', ['status']],
    ['step_states', ['flow_slug']],
    ['step_states', ['run_id', 'status', 'remaining_deps']],
    ['step_tasks', ['flow_slug']],
    ['step_tasks', ['message_id']],
    ['step_tasks', ['run_id', 'step_slug']],
    ['workers', ['queue_name']],
    ['workers', ['last_heartbeat_at']],
  ];

  async function indexes() {
    return query<{ table: string; index: string; columns: string[]; predicate: string | null }>(
      `select t.relname as table, i.relname as index,
              array(select a.attname from unnest(x.indkey::int2[]) with ordinality k(attnum, n)
                      join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum order by k.n)::text[] as columns,
              pg_get_expr(x.indpred, x.indrelid) as predicate
         from pg_index x
         join pg_class i on i.oid = x.indexrelid
         join pg_class t on t.oid = x.indrelid
         join pg_namespace n on n.oid = t.relnamespace
        where n.nspname = 'pgflow'`,
    );
  }

  it.each(REQUIRED.map(([table, columns]) => [`${table} (${columns.join(', ')})`, table, columns] as const))(
    'an index on %s exists (an index leading with those columns counts)',
    async (_, table, columns) => {
      const covering = (await indexes()).filter((index) => index.table === table && columns.every((column, position) => index.columns[position] === column));
      const all = (await indexes()).filter((index) => index.table === table).map((index) => `${index.index} (${index.columns.join(', ')})`);
      expect(covering.map((index) => index.index), `no index of ${table} leads with (${columns.join(', ')}); it has: ${all.join('; ')}`).not.toHaveLength(0);
    },
  );

  it('every index schema.ts declares exists with its columns and predicate', async () => {
    const inDatabase = new Map((await indexes()).map((index) => [index.index, index]));
    for (const table of TABLES) {
      const config = getTableConfig(table);
      for (const index of config.indexes) {
        const name = index.config.name;
        const found = name === undefined ? undefined : inDatabase.get(name);
        expect({ name, table: found?.table, columns: found?.columns, partial: found?.predicate != null }).toEqual({
          name,
          table: config.name,
          columns: index.config.columns.map((column) => ('name' in column ? column.name : '?')),
          partial: index.config.where !== undefined,
        });
      }
    }
  });
});
