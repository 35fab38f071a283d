/**
 * The value sets of the engine's columns (statuses, step types, skip modes
 * and reasons, access levels) and the JSON type of its jsonb columns. A leaf
 * module: schema.ts and the row types both read it, and it imports nothing.
 */

/** Any JSON value, as stored in the `jsonb` columns. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export const RUN_STATUSES = ['started', 'completed', 'failed', 'cancelled'] as const;
export const STEP_STATUSES = ['created', 'started', 'completed', 'failed', 'skipped', 'cancelled'] as const;
export const TASK_STATUSES = ['queued', 'started', 'completed', 'failed', 'cancelled'] as const;
export const STEP_TYPES = ['single', 'map'] as const;
/** What a step does when its condition is not met (`when_unmet`) or its task has failed its last attempt (`when_exhausted`). */
export const SKIP_MODES = ['fail', 'skip', 'skip-cascade'] as const;
export const SKIP_REASONS = ['condition_unmet', 'handler_failed', 'dependency_skipped'] as const;
/** The access levels pgflow.grant_worker / grant_client / grant_reader / grant_admin give a role. */
export const ACCESS_LEVELS = ['worker', 'client', 'reader', 'admin'] as const;

export type RunStatus = (typeof RUN_STATUSES)[number];
export type StepStatus = (typeof STEP_STATUSES)[number];
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type StepType = (typeof STEP_TYPES)[number];
export type SkipMode = (typeof SKIP_MODES)[number];
export type SkipReason = (typeof SKIP_REASONS)[number];
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
