/**
 * How the pgflow tables' column types read and write through Kysely:
 * timestamps, int8 and jsonb columns (the table interfaces in ./tables.ts use
 * them).
 */
import type { ColumnType } from 'kysely';
import type { Json } from '../core/enums.js';

/** A `timestamptz` column: read as a `Date`, written as a `Date` or an ISO string. */
export type Timestamp = ColumnType<Date, Date | string, Date | string>;

/** A nullable `timestamptz` column. */
export type NullableTimestamp = ColumnType<Date | null, Date | string | null, Date | string | null>;

/** A `timestamptz` column with `default now()`: optional on insert. */
export type GeneratedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;

/**
 * A `bigint` (int8) column. node-postgres and postgres.js return int8 as a
 * string (a JavaScript number cannot hold every int8 value), so a selected
 * value is a `string`; convert it with `Number(...)` when it is a queue
 * message id. Writes accept a string, a number or a bigint.
 */
export type Int8 = ColumnType<string, string | number | bigint, string | number | bigint>;

/** A nullable `bigint` column (see `Int8`). */
export type NullableInt8 = ColumnType<string | null, string | number | bigint | null, string | number | bigint | null>;

/** A JSON value other than `null`. */
export type JsonValue = Exclude<Json, null>;

/**
 * A NOT NULL `jsonb` column. Reading gives any JSON value, JSON `null`
 * included. Writing takes a non-null value: drivers send JavaScript `null`
 * as SQL NULL, which the column refuses (and which Kysely would otherwise
 * treat as "may be left out" on insert).
 *
 * node-postgres sends a JavaScript object as JSON but a JavaScript array as a
 * PostgreSQL array, so write arrays and top-level strings as
 * `JSON.stringify(value)` (or through the engine's functions, which do this).
 */
export type JsonColumn = ColumnType<Json, JsonValue, JsonValue>;

/** A nullable `jsonb` column: SQL NULL and JSON `null` both read as `null`. */
export type NullableJsonColumn = Json | null;
