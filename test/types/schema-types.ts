/**
 * Type tests, checked by `tsc -p tsconfig.json` (never run):
 *
 * - the Kysely `PgflowDatabase` and the Drizzle tables agree on every table's
 *   column names (snake_case), nullability, columns required on insert, and
 *   column types but
 *   for `step_tasks.message_id` (int8: a number in Drizzle's `mode: 'number'`,
 *   the driver's string in Kysely);
 * - the record interfaces of src/core/types.ts are exactly Drizzle's rows;
 * - wrong column names and wrong status literals do not compile, in Drizzle
 *   and in Kysely (each `@ts-expect-error` line holds exactly one error).
 */
import { eq } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import type { AnyPgTable } from 'drizzle-orm/pg-core';
import type { Insertable, Kysely, Selectable } from 'kysely';
import type { Dep, FlowRecord, Json, RoleAccess, Run, StepRecord, StepState, StepTask, Worker } from '../../src/core/types.js';
import { deps, flows, pgflowSchema, roleAccess, runs, scheduleTicks, schedules, stepStates, stepTasks, steps, workers } from '../../src/drizzle/index.js';
import type { NullableJsonColumn, PgflowDatabase, RunsTable, Timestamp } from '../../src/kysely/index.js';

// ---------------------------------------------------------------- machinery

/** Exact type identity (not mere assignability). */
type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

/** `createdAt` → `created_at`. */
type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S;

/** A Drizzle row with its keys turned into column names. */
type Snaked<Row> = { [K in keyof Row & string as SnakeCase<K>]: Row[K] };

/**
 * Each column: whether it may be NULL. A jsonb column's type includes JSON's
 * `null` whether or not the column is NOT NULL, so its nullability is not
 * visible in a row type; `RequiredOnInsert` below covers those columns.
 */
type Nullability<Row> = { [K in keyof Row]-?: null extends Row[K] ? (Json extends Row[K] ? 'json' : 'nullable') : 'not null' };

/** The keys an insert must give (NOT NULL without a default). */
type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T];

/** The `PgflowDatabase` key of a Drizzle table: `'<schema>.<name>'`. */
type KyselyKey<T extends AnyPgTable> = `${T['_']['schema'] & string}.${T['_']['name']}`;
type DrizzleRow<T extends AnyPgTable> = Snaked<T['$inferSelect']>;
type KyselyTable<T extends AnyPgTable> = KyselyKey<T> extends keyof PgflowDatabase ? PgflowDatabase[KyselyKey<T>] : never;
type KyselyRow<T extends AnyPgTable> = Selectable<KyselyTable<T>>;

/** Same column names and the same nullability. */
type SameShape<T extends AnyPgTable> = Equal<Nullability<DrizzleRow<T>>, Nullability<KyselyRow<T>>>;

/** The same columns are required on insert (Drizzle's `$inferInsert`, Kysely's `Insertable`). */
type SameRequiredOnInsert<T extends AnyPgTable> = Equal<SnakeCase<RequiredKeys<T['$inferInsert']> & string>, RequiredKeys<Insertable<KyselyTable<T>>>>;

type AllTables = typeof flows | typeof steps | typeof deps | typeof runs | typeof stepStates | typeof stepTasks | typeof workers | typeof schedules | typeof scheduleTicks | typeof roleAccess;

// ------------------------------------------- Kysely and Drizzle agree, table by table

export type KyselyHasExactlyTheDrizzleTables = Expect<Equal<keyof PgflowDatabase, KyselyKey<AllTables>>>;

export type ColumnNamesAndNullability = [
  Expect<SameShape<typeof flows>>,
  Expect<SameShape<typeof steps>>,
  Expect<SameShape<typeof deps>>,
  Expect<SameShape<typeof runs>>,
  Expect<SameShape<typeof stepStates>>,
  Expect<SameShape<typeof stepTasks>>,
  Expect<SameShape<typeof workers>>,
  Expect<SameShape<typeof schedules>>,
  Expect<SameShape<typeof scheduleTicks>>,
  Expect<SameShape<typeof roleAccess>>,
];

export type RequiredOnInsert = [
  Expect<SameRequiredOnInsert<typeof flows>>,
  Expect<SameRequiredOnInsert<typeof steps>>,
  Expect<SameRequiredOnInsert<typeof deps>>,
  Expect<SameRequiredOnInsert<typeof runs>>,
  Expect<SameRequiredOnInsert<typeof stepStates>>,
  Expect<SameRequiredOnInsert<typeof stepTasks>>,
  Expect<SameRequiredOnInsert<typeof workers>>,
  Expect<SameRequiredOnInsert<typeof schedules>>,
  Expect<SameRequiredOnInsert<typeof scheduleTicks>>,
  Expect<SameRequiredOnInsert<typeof roleAccess>>,
  // Spelled out for one table, so the check above is seen to compare something.
  Expect<Equal<RequiredKeys<Insertable<PgflowDatabase['pgflow.runs']>>, 'flow_slug' | 'input'>>,
];

/** Beyond nullability, the selected types are the same (JSON, status literals, Date timestamps)... */
export type ColumnTypes = [
  Expect<Equal<DrizzleRow<typeof flows>, KyselyRow<typeof flows>>>,
  Expect<Equal<DrizzleRow<typeof steps>, KyselyRow<typeof steps>>>,
  Expect<Equal<DrizzleRow<typeof deps>, KyselyRow<typeof deps>>>,
  Expect<Equal<DrizzleRow<typeof runs>, KyselyRow<typeof runs>>>,
  Expect<Equal<DrizzleRow<typeof stepStates>, KyselyRow<typeof stepStates>>>,
  Expect<Equal<Omit<DrizzleRow<typeof stepTasks>, 'message_id'>, Omit<KyselyRow<typeof stepTasks>, 'message_id'>>>,
  Expect<Equal<DrizzleRow<typeof workers>, KyselyRow<typeof workers>>>,
  Expect<Equal<DrizzleRow<typeof schedules>, KyselyRow<typeof schedules>>>,
  Expect<Equal<DrizzleRow<typeof scheduleTicks>, KyselyRow<typeof scheduleTicks>>>,
  Expect<Equal<DrizzleRow<typeof roleAccess>, KyselyRow<typeof roleAccess>>>,
];

/** ...but for the int8 message id: Drizzle converts it to a number, Kysely returns the driver's string. */
export type MessageId = [
  Expect<Equal<DrizzleRow<typeof stepTasks>['message_id'], number | null>>,
  Expect<Equal<KyselyRow<typeof stepTasks>['message_id'], string | null>>,
];

// ------------------------------------------- src/core/types.ts records are Drizzle's rows

export type CoreRecordsAreDrizzleRows = [
  Expect<Equal<FlowRecord, typeof flows.$inferSelect>>,
  Expect<Equal<StepRecord, typeof steps.$inferSelect>>,
  Expect<Equal<Dep, typeof deps.$inferSelect>>,
  Expect<Equal<Run, typeof runs.$inferSelect>>,
  Expect<Equal<StepState, typeof stepStates.$inferSelect>>,
  Expect<Equal<StepTask, typeof stepTasks.$inferSelect>>,
  Expect<Equal<Worker, typeof workers.$inferSelect>>,
  Expect<Equal<RoleAccess, typeof roleAccess.$inferSelect>>,
];

// ------------------------------------------- the comparison itself can fail

/** `runs` as Kysely would see it if `failed_at` were NOT NULL. */
interface RunsWithRequiredFailedAt extends Omit<RunsTable, 'failed_at'> {
  failed_at: Timestamp;
}
/** `runs` as Kysely would see it if `input` were nullable. */
interface RunsWithOptionalInput extends Omit<RunsTable, 'input'> {
  input: NullableJsonColumn;
}
/** `runs` with a misspelt column. */
interface RunsWithMisspeltColumn extends Omit<RunsTable, 'failed_at'> {
  failedAt: RunsTable['failed_at'];
}
type Kysely2Drizzle<K> = Equal<Nullability<DrizzleRow<typeof runs>>, Nullability<Selectable<K>>>;

export type ComparatorCatchesDifferences = [
  Expect<Kysely2Drizzle<RunsTable>>,
  // @ts-expect-error failed_at's nullability differs
  Expect<Kysely2Drizzle<RunsWithRequiredFailedAt>>,
  // @ts-expect-error input would not be required on insert
  Expect<Equal<RequiredKeys<Insertable<RunsWithOptionalInput>>, RequiredKeys<Insertable<RunsTable>>>>,
  // @ts-expect-error failedAt is not a column name
  Expect<Kysely2Drizzle<RunsWithMisspeltColumn>>,
  // @ts-expect-error a Date column is not a string column
  Expect<Equal<KyselyRow<typeof runs>['started_at'], string>>,
];

// ------------------------------------------- Drizzle: wrong names and literals do not compile

declare const drizzleDb: NodePgDatabase<typeof pgflowSchema>;

export function drizzleQueries() {
  // Correct queries compile and are typed.
  const failed = drizzleDb.select().from(runs).where(eq(runs.status, 'failed'));
  const withStates = drizzleDb.query.runs.findMany({ with: { stepStates: true } });
  type FailedRow = Awaited<typeof failed>[number];
  type WithStatesRow = Awaited<typeof withStates>[number];
  type _ = [Expect<Equal<FailedRow, Run>>, Expect<Equal<WithStatesRow['stepStates'], StepState[]>>];

  // @ts-expect-error 'done' is not a run status
  drizzleDb.select().from(runs).where(eq(runs.status, 'done'));
  // @ts-expect-error 'queued' is a task status, not a run status
  drizzleDb.select().from(runs).where(eq(runs.status, 'queued'));
  // @ts-expect-error 'pending' is not a step status
  drizzleDb.select().from(stepStates).where(eq(stepStates.status, 'pending'));
  // @ts-expect-error runs has no column `statuz`
  drizzleDb.select().from(runs).where(eq(runs.statuz, 'failed'));
  // @ts-expect-error Drizzle columns are camelCase: `flow_slug` is not a property
  drizzleDb.select({ slug: runs.flow_slug }).from(runs);
  // @ts-expect-error runs has no relation `stepStatez`
  drizzleDb.query.runs.findMany({ with: { stepStatez: true } });
  // @ts-expect-error inserting a run with an unknown status
  drizzleDb.insert(runs).values({ flowSlug: 'f', input: {}, status: 'done' });
  // @ts-expect-error updating a task with an unknown status
  drizzleDb.update(stepTasks).set({ status: 'retrying' });
  return [failed, withStates] as const;
}

// ------------------------------------------- Kysely: wrong names and literals do not compile

/** An app's own table, merged with pgflow's. */
interface AppTables {
  app_notes: { id: number; body: string };
}
declare const kyselyDb: Kysely<AppTables & PgflowDatabase>;

export function kyselyQueries() {
  // Correct queries compile and are typed.
  const completed = kyselyDb.selectFrom('pgflow.runs').selectAll().where('status', '=', 'completed').execute();
  const notes = kyselyDb.selectFrom('app_notes').select(['id', 'body']).execute();
  type CompletedRow = Awaited<typeof completed>[number];
  type _ = [Expect<Equal<CompletedRow, KyselyRow<typeof runs>>>, Expect<Equal<CompletedRow['status'], Run['status']>>];

  // @ts-expect-error 'done' is not a run status
  kyselyDb.selectFrom('pgflow.runs').selectAll().where('status', '=', 'done');
  // @ts-expect-error 'created' is a step status, not a task status
  kyselyDb.selectFrom('pgflow.step_tasks').selectAll().where('status', '=', 'created');
  // @ts-expect-error there is no table pgflow.runz
  kyselyDb.selectFrom('pgflow.runz');
  // @ts-expect-error pgflow tables need their schema: `runs` alone is not a table
  kyselyDb.selectFrom('runs');
  // @ts-expect-error runs has no column `statuz`
  kyselyDb.selectFrom('pgflow.runs').select('statuz');
  // @ts-expect-error Kysely columns are snake_case: `flowSlug` is not a column
  kyselyDb.selectFrom('pgflow.runs').selectAll().where('flowSlug', '=', 'f');
  // @ts-expect-error inserting a run with an unknown status
  kyselyDb.insertInto('pgflow.runs').values({ flow_slug: 'f', input: {}, status: 'done' });
  // @ts-expect-error a run needs its input
  kyselyDb.insertInto('pgflow.runs').values({ flow_slug: 'f' });
  return [completed, notes] as const;
}
