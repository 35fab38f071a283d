/**
 * The pgflow tables, defined once for Drizzle. drizzle-kit generates the DDL
 * migrations from this file (see drizzle.config.ts); a test proves that a
 * migrated database matches it, and the Kysely types mirror it.
 *
 * Column order, constraint names and index names follow pgflow 0.8.1, so
 * `select *` and error messages look the same to existing tooling.
 */
import { sql } from 'drizzle-orm';
import {
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
  bigint,
} from 'drizzle-orm/pg-core';
import { ACCESS_LEVELS, RUN_STATUSES, SKIP_MODES, SKIP_REASONS, STEP_STATUSES, STEP_TYPES, TASK_STATUSES, type Json } from './src/core/enums.js';

export type { Json } from './src/core/enums.js';

export const pgflow = pgSchema('pgflow');

const timestamptz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/** A slug: a letter or underscore, then letters, digits and underscores. */
const SLUG_PATTERN = '^[a-zA-Z_][a-zA-Z0-9_]*$';

/** `pgflow.flows`: one row per flow definition. */
export const flows = pgflow.table(
  'flows',
  {
    flowSlug: text('flow_slug').primaryKey(),
    optMaxAttempts: integer('opt_max_attempts').notNull().default(3),
    optBaseDelay: integer('opt_base_delay').notNull().default(1),
    optTimeout: integer('opt_timeout').notNull().default(60),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    /** Set while the flow is paused: workers start none of its tasks (pgflow.pause_flow / resume_flow). */
    pausedAt: timestamptz('paused_at'),
  },
  (t) => [
    // A flow slug names its queue, so it also obeys the queue-name limit of 47 characters.
    check('slug_is_valid', sql`${t.flowSlug} ~ ${sql.raw(`'${SLUG_PATTERN}'`)} and length(${t.flowSlug}) <= 47 and ${t.flowSlug} <> 'run'`),
    check('opt_max_attempts_is_nonnegative', sql`${t.optMaxAttempts} >= 0`),
    check('opt_base_delay_is_nonnegative', sql`${t.optBaseDelay} >= 0`),
    check('opt_timeout_is_positive', sql`${t.optTimeout} > 0`),
  ],
);

/** `pgflow.steps`: the steps of each flow, in the order they were added. */
export const steps = pgflow.table(
  'steps',
  {
    flowSlug: text('flow_slug').notNull(),
    stepSlug: text('step_slug').notNull(),
    stepType: text('step_type', { enum: STEP_TYPES }).notNull().default('single'),
    stepIndex: integer('step_index').notNull().default(0),
    depsCount: integer('deps_count').notNull().default(0),
    optMaxAttempts: integer('opt_max_attempts'),
    optBaseDelay: integer('opt_base_delay'),
    optTimeout: integer('opt_timeout'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    optStartDelay: integer('opt_start_delay'),
    /** Run the step only when its input contains this JSON (`input @> pattern`). */
    requiredInputPattern: jsonb('required_input_pattern').$type<{ [key: string]: Json }>(),
    /** Run the step only when its input does not contain this JSON. */
    forbiddenInputPattern: jsonb('forbidden_input_pattern').$type<{ [key: string]: Json }>(),
    /** What happens when a condition is not met. */
    whenUnmet: text('when_unmet', { enum: SKIP_MODES }).notNull().default('skip'),
    /** What happens when a task has failed its last attempt. */
    whenExhausted: text('when_exhausted', { enum: SKIP_MODES }).notNull().default('fail'),
  },
  (t) => [
    primaryKey({ name: 'steps_pkey', columns: [t.flowSlug, t.stepSlug] }),
    unique('steps_flow_slug_step_index_key').on(t.flowSlug, t.stepIndex),
    foreignKey({ name: 'steps_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    check('steps_step_slug_check', sql`${t.stepSlug} ~ ${sql.raw(`'${SLUG_PATTERN}'`)} and length(${t.stepSlug}) <= 128 and ${t.stepSlug} <> 'run'`),
    check('steps_step_type_check', sql`${t.stepType} in ('single', 'map')`),
    check('steps_deps_count_check', sql`${t.depsCount} >= 0`),
    check('opt_max_attempts_is_nonnegative', sql`${t.optMaxAttempts} is null or ${t.optMaxAttempts} >= 0`),
    check('opt_base_delay_is_nonnegative', sql`${t.optBaseDelay} is null or ${t.optBaseDelay} >= 0`),
    check('opt_timeout_is_positive', sql`${t.optTimeout} is null or ${t.optTimeout} > 0`),
    check('opt_start_delay_is_nonnegative', sql`${t.optStartDelay} is null or ${t.optStartDelay} >= 0`),
    check('required_input_pattern_is_object', sql`${t.requiredInputPattern} is null or jsonb_typeof(${t.requiredInputPattern}) = 'object'`),
    check('forbidden_input_pattern_is_object', sql`${t.forbiddenInputPattern} is null or jsonb_typeof(${t.forbiddenInputPattern}) = 'object'`),
    check('when_unmet_is_valid', sql`${t.whenUnmet} in ('fail', 'skip', 'skip-cascade')`),
    check('when_exhausted_is_valid', sql`${t.whenExhausted} in ('fail', 'skip', 'skip-cascade')`),
  ],
);

/** `pgflow.deps`: `step_slug` depends on `dep_slug` within a flow. */
export const deps = pgflow.table(
  'deps',
  {
    flowSlug: text('flow_slug').notNull(),
    /** The step depended upon (the parent). */
    depSlug: text('dep_slug').notNull(),
    /** The dependent step (the child). */
    stepSlug: text('step_slug').notNull(),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'deps_pkey', columns: [t.flowSlug, t.depSlug, t.stepSlug] }),
    foreignKey({ name: 'deps_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    foreignKey({ name: 'deps_flow_slug_dep_slug_fkey', columns: [t.flowSlug, t.depSlug], foreignColumns: [steps.flowSlug, steps.stepSlug] }),
    foreignKey({ name: 'deps_flow_slug_step_slug_fkey', columns: [t.flowSlug, t.stepSlug], foreignColumns: [steps.flowSlug, steps.stepSlug] }),
    check('deps_check', sql`${t.depSlug} <> ${t.stepSlug}`),
    index('idx_deps_by_flow_dep').on(t.flowSlug, t.depSlug),
    index('idx_deps_by_flow_step').on(t.flowSlug, t.stepSlug),
  ],
);

/** `pgflow.runs`: one row per started flow. */
export const runs = pgflow.table(
  'runs',
  {
    runId: uuid('run_id').primaryKey().defaultRandom(),
    flowSlug: text('flow_slug').notNull(),
    status: text('status', { enum: RUN_STATUSES }).notNull().default('started'),
    input: jsonb('input').$type<Json>().notNull(),
    output: jsonb('output').$type<Json>(),
    remainingSteps: integer('remaining_steps').notNull().default(0),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    completedAt: timestamptz('completed_at'),
    failedAt: timestamptz('failed_at'),
    cancelledAt: timestamptz('cancelled_at'),
    /** Why the run was cancelled (pgflow.cancel_run's reason). */
    cancelReason: text('cancel_reason'),
    /** The caller's key for an idempotent start; the run id is derived from it (see pgflow.start_flow). */
    idempotencyKey: text('idempotency_key'),
  },
  (t) => [
    foreignKey({ name: 'runs_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    check('status_is_valid', sql`${t.status} in ('started', 'completed', 'failed', 'cancelled')`),
    check('runs_remaining_steps_check', sql`${t.remainingSteps} >= 0`),
    check('completed_at_or_failed_at', sql`not (${t.completedAt} is not null and ${t.failedAt} is not null)`),
    check('completed_at_is_after_started_at', sql`${t.completedAt} is null or ${t.completedAt} >= ${t.startedAt}`),
    check('failed_at_is_after_started_at', sql`${t.failedAt} is null or ${t.failedAt} >= ${t.startedAt}`),
    check(
      'status_matches_timestamps',
      sql`(${t.status} = 'started' and ${t.completedAt} is null and ${t.failedAt} is null and ${t.cancelledAt} is null)
        or (${t.status} = 'completed' and ${t.completedAt} is not null)
        or (${t.status} = 'failed' and ${t.failedAt} is not null)
        or (${t.status} = 'cancelled' and ${t.cancelledAt} is not null)`,
    ),
    check('cancelled_at_is_after_started_at', sql`${t.cancelledAt} is null or ${t.cancelledAt} >= ${t.startedAt}`),
    index('idx_runs_flow_slug').on(t.flowSlug),
    index('idx_runs_status').on(t.status),
  ],
);

/** `pgflow.step_states`: the state of each step within a run. */
export const stepStates = pgflow.table(
  'step_states',
  {
    flowSlug: text('flow_slug').notNull(),
    runId: uuid('run_id').notNull(),
    stepSlug: text('step_slug').notNull(),
    status: text('status', { enum: STEP_STATUSES }).notNull().default('created'),
    /** NULL until the step starts; then the number of its tasks not yet completed. */
    remainingTasks: integer('remaining_tasks'),
    remainingDeps: integer('remaining_deps').notNull().default(0),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    startedAt: timestamptz('started_at'),
    completedAt: timestamptz('completed_at'),
    failedAt: timestamptz('failed_at'),
    errorMessage: text('error_message'),
    /** How many tasks the step has (1 for a single step, one per element for a map); NULL while unknown. */
    initialTasks: integer('initial_tasks'),
    skippedAt: timestamptz('skipped_at'),
    /** Why the step was skipped: its condition was not met, its handler failed for good, or a dependency was skipped. */
    skipReason: text('skip_reason', { enum: SKIP_REASONS }),
    cancelledAt: timestamptz('cancelled_at'),
  },
  (t) => [
    primaryKey({ name: 'step_states_pkey', columns: [t.runId, t.stepSlug] }),
    foreignKey({ name: 'step_states_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    foreignKey({ name: 'step_states_run_id_fkey', columns: [t.runId], foreignColumns: [runs.runId] }),
    foreignKey({ name: 'step_states_flow_slug_step_slug_fkey', columns: [t.flowSlug, t.stepSlug], foreignColumns: [steps.flowSlug, steps.stepSlug] }),
    check('status_is_valid', sql`${t.status} in ('created', 'started', 'completed', 'failed', 'skipped', 'cancelled')`),
    check('cancelled_at_matches_status', sql`(${t.status} = 'cancelled') = (${t.cancelledAt} is not null)`),
    check('skipped_at_matches_status', sql`(${t.status} = 'skipped') = (${t.skippedAt} is not null)`),
    check('skip_reason_matches_status', sql`(${t.status} = 'skipped') = (${t.skipReason} is not null)`),
    check('skip_reason_is_valid', sql`${t.skipReason} is null or ${t.skipReason} in ('condition_unmet', 'handler_failed', 'dependency_skipped')`),
    check('skipped_at_is_after_created_at', sql`${t.skippedAt} is null or ${t.skippedAt} >= ${t.createdAt}`),
    check('step_states_remaining_deps_check', sql`${t.remainingDeps} >= 0`),
    check('step_states_remaining_tasks_check', sql`${t.remainingTasks} is null or ${t.remainingTasks} >= 0`),
    check('step_states_initial_tasks_check', sql`${t.initialTasks} is null or ${t.initialTasks} >= 0`),
    check('status_and_remaining_tasks_match', sql`${t.status} <> 'completed' or coalesce(${t.remainingTasks}, -1) = 0`),
    check('remaining_tasks_state_consistency', sql`${t.remainingTasks} is null or ${t.status} <> 'created'`),
    check('initial_tasks_known_when_started', sql`${t.status} <> 'started' or ${t.initialTasks} is not null`),
    check('completed_at_or_failed_at', sql`not (${t.completedAt} is not null and ${t.failedAt} is not null)`),
    check('started_at_is_after_created_at', sql`${t.startedAt} is null or ${t.startedAt} >= ${t.createdAt}`),
    check('completed_at_is_after_started_at', sql`${t.completedAt} is null or ${t.completedAt} >= ${t.startedAt}`),
    check('failed_at_is_after_started_at', sql`${t.failedAt} is null or ${t.failedAt} >= ${t.startedAt}`),
    index('idx_step_states_flow_slug').on(t.flowSlug),
    index('idx_step_states_ready')
      .on(t.runId, t.status, t.remainingDeps)
      .where(sql`${t.status} = 'created' and ${t.remainingDeps} = 0`),
  ],
);

/** `pgflow.workers`: registered worker processes. */
export const workers = pgflow.table(
  'workers',
  {
    workerId: uuid('worker_id').primaryKey(),
    queueName: text('queue_name').notNull(),
    functionName: text('function_name').notNull(),
    startedAt: timestamptz('started_at').notNull().defaultNow(),
    /** Set when the worker shuts down. */
    stoppedAt: timestamptz('stopped_at'),
    /** Set to ask a worker to stop taking new work (pgflow 0.8.1's deprecation flag). */
    deprecatedAt: timestamptz('deprecated_at'),
    lastHeartbeatAt: timestamptz('last_heartbeat_at').notNull().defaultNow(),
  },
  (t) => [
    check('stopped_at_is_after_started_at', sql`${t.stoppedAt} is null or ${t.stoppedAt} >= ${t.startedAt}`),
    index('idx_workers_queue_name').on(t.queueName),
    index('idx_workers_heartbeat').on(t.lastHeartbeatAt),
  ],
);

/** `pgflow.step_tasks`: the unit of work a worker executes (one per step, one per element for a map step). */
export const stepTasks = pgflow.table(
  'step_tasks',
  {
    flowSlug: text('flow_slug').notNull(),
    runId: uuid('run_id').notNull(),
    stepSlug: text('step_slug').notNull(),
    /** The queue message that carries this task (msg_id in `pgmq.q_<flow_slug>`). */
    messageId: bigint('message_id', { mode: 'number' }),
    taskIndex: integer('task_index').notNull().default(0),
    status: text('status', { enum: TASK_STATUSES }).notNull().default('queued'),
    attemptsCount: integer('attempts_count').notNull().default(0),
    errorMessage: text('error_message'),
    output: jsonb('output').$type<Json>(),
    queuedAt: timestamptz('queued_at').notNull().defaultNow(),
    completedAt: timestamptz('completed_at'),
    failedAt: timestamptz('failed_at'),
    startedAt: timestamptz('started_at'),
    lastWorkerId: uuid('last_worker_id'),
    cancelledAt: timestamptz('cancelled_at'),
  },
  (t) => [
    primaryKey({ name: 'step_tasks_pkey', columns: [t.runId, t.stepSlug, t.taskIndex] }),
    foreignKey({ name: 'step_tasks_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    foreignKey({ name: 'step_tasks_run_id_fkey', columns: [t.runId], foreignColumns: [runs.runId] }),
    foreignKey({ name: 'step_tasks_run_id_step_slug_fkey', columns: [t.runId, t.stepSlug], foreignColumns: [stepStates.runId, stepStates.stepSlug] }),
    foreignKey({ name: 'step_tasks_last_worker_id_fkey', columns: [t.lastWorkerId], foreignColumns: [workers.workerId] }).onDelete('set null'),
    check('valid_status', sql`${t.status} in ('queued', 'started', 'completed', 'failed', 'cancelled')`),
    check('cancelled_at_matches_status', sql`(${t.status} = 'cancelled') = (${t.cancelledAt} is not null)`),
    check('attempts_count_nonnegative', sql`${t.attemptsCount} >= 0`),
    check('task_index_nonnegative', sql`${t.taskIndex} >= 0`),
    check('output_valid_only_for_completed', sql`${t.output} is null or ${t.status} in ('completed', 'failed')`),
    check('completed_at_or_failed_at', sql`not (${t.completedAt} is not null and ${t.failedAt} is not null)`),
    check('started_at_is_after_queued_at', sql`${t.startedAt} is null or ${t.startedAt} >= ${t.queuedAt}`),
    check('completed_at_is_after_queued_at', sql`${t.completedAt} is null or ${t.completedAt} >= ${t.queuedAt}`),
    check('failed_at_is_after_queued_at', sql`${t.failedAt} is null or ${t.failedAt} >= ${t.queuedAt}`),
    check('completed_at_is_after_started_at', sql`${t.completedAt} is null or ${t.startedAt} is null or ${t.completedAt} >= ${t.startedAt}`),
    check('failed_at_is_after_started_at', sql`${t.failedAt} is null or ${t.startedAt} is null or ${t.failedAt} >= ${t.startedAt}`),
    // Workers find a task by its message id (unique within the flow's queue). No index covers a column
    // that starting or completing a task changes, so those updates can stay on the heap page (HOT).
    index('idx_step_tasks_message_id').on(t.messageId),
    index('idx_step_tasks_flow_slug').on(t.flowSlug),
  ],
);

/**
 * `pgflow.schedules`: flows started on a cron schedule (pgflow.schedule_flow). Workers started with
 * `schedules: true` (or `pgflow-orm scheduler`) fire each tick; pgflow.fire_schedule makes that happen
 * once per tick across all of them.
 */
export const schedules = pgflow.table(
  'schedules',
  {
    flowSlug: text('flow_slug').notNull(),
    scheduleName: text('schedule_name').notNull(),
    /** Five fields: minute, hour, day of month, month, day of week. */
    cron: text('cron').notNull(),
    input: jsonb('input').$type<Json>().notNull(),
    /** The IANA time zone the cron expression is read in. */
    timezone: text('timezone').notNull().default('UTC'),
    createdAt: timestamptz('created_at').notNull().defaultNow(),
    updatedAt: timestamptz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'schedules_pkey', columns: [t.flowSlug, t.scheduleName] }),
    foreignKey({ name: 'schedules_flow_slug_fkey', columns: [t.flowSlug], foreignColumns: [flows.flowSlug] }),
    check('schedule_name_is_valid', sql`${t.scheduleName} ~ ${sql.raw(`'${SLUG_PATTERN}'`)} and length(${t.scheduleName}) <= 128`),
    check('input_is_json_value', sql`jsonb_typeof(${t.input}) in ('object', 'array')`),
  ],
);

/** `pgflow.schedule_ticks`: each tick of a schedule that has fired, with the run it started (one row per tick, ever). */
export const scheduleTicks = pgflow.table(
  'schedule_ticks',
  {
    flowSlug: text('flow_slug').notNull(),
    scheduleName: text('schedule_name').notNull(),
    /** The moment the cron expression names, not when it was noticed. */
    tick: timestamptz('tick').notNull(),
    runId: uuid('run_id').notNull(),
    firedAt: timestamptz('fired_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'schedule_ticks_pkey', columns: [t.flowSlug, t.scheduleName, t.tick] }),
    foreignKey({
      name: 'schedule_ticks_schedule_fkey',
      columns: [t.flowSlug, t.scheduleName],
      foreignColumns: [schedules.flowSlug, schedules.scheduleName],
    }).onDelete('cascade'),
  ],
);

/**
 * `pgflow.role_access`: which access level (see pgflow.grant_worker, grant_client, grant_reader,
 * grant_admin) each role was given. The grant functions keep it; a release re-applies every level
 * recorded here so roles granted before it get what it adds, and revoking one level leaves the
 * privileges of the role's other levels in place.
 */
export const roleAccess = pgflow.table(
  'role_access',
  {
    roleName: text('role_name').notNull(),
    access: text('access', { enum: ACCESS_LEVELS }).notNull(),
    grantedAt: timestamptz('granted_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'role_access_pkey', columns: [t.roleName, t.access] }),
    check('access_is_valid', sql`${t.access} in ('worker', 'client', 'reader', 'admin')`),
  ],
);
