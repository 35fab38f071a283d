/**
 * JSON values (run inputs and outputs, task outputs) as the dashboard sends
 * them: pretty-printed by PostgreSQL and cut to a readable length, so a
 * 50 MB output never travels to the browser unless someone asks for it.
 */
import type { JsonPreview } from '../../api-types.js';

/** Characters of pretty-printed JSON sent with a page; the rest is fetched on demand. */
export const PREVIEW_LENGTH = 4000;

/** Characters of a task output shown in the timeline's details. */
export const TASK_PREVIEW_LENGTH = 1000;

/**
 * SQL that turns a jsonb expression into `{"text", "length"}` (NULL for SQL NULL),
 * pretty-printing it once. `expression` is SQL written by this module's callers, never user input.
 */
export function previewSql(expression: string, length: number = PREVIEW_LENGTH): string {
  return `(select case when p.pretty is null then null
            else jsonb_build_object('text', left(p.pretty, ${Number(length)}), 'length', length(p.pretty)) end
           from (select jsonb_pretty(${expression}) as pretty) p)`;
}

/** The JSON a previewSql expression produced, as the API sends it. */
export function toPreview(value: unknown): JsonPreview | null {
  if (value === null || value === undefined) return null;
  const { text, length } = value as { text: string; length: number };
  return { text, length, truncated: text.length < length };
}
