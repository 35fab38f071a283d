/**
 * Time ranges as run-id ranges. Run ids from pgflow.start_flow are UUIDv7:
 * their first 48 bits are the start time in Unix milliseconds, so every run
 * started at or after time T has an id at or above the smallest UUID with
 * T's millisecond prefix. A condition `run_id >= bound` lets PostgreSQL read
 * a time range from the primary key (there is no index on started_at); the
 * queries keep their `started_at` condition as well, so a bound never admits
 * a run outside the range.
 */

/** The smallest UUID whose time prefix is `time` (in UUIDv7 order). */
export function runIdLowerBound(time: Date): string {
  const ms = Math.min(Math.max(0, Math.floor(time.getTime())), 2 ** 48 - 1);
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `text` is a UUID in its usual written form. */
export function isUuid(text: string): boolean {
  return UUID.test(text);
}
