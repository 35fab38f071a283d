/** Formatting text output: aligned tables, durations, ages and JSON. */

/** Renders rows as left-aligned columns separated by two spaces, with an optional indent. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], indent = '  '): string[] {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]) =>
    indent +
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)];
}

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

/** How long ago `date` was, relative to `now`: `3 s ago`, `5 min 02 s ago`. */
export function formatAge(date: Date | null | undefined, now = Date.now()): string {
  if (!date) return '-';
  const ms = now - date.getTime();
  return ms < 0 ? 'just now' : `${formatDuration(ms)} ago`;
}

/** A timestamp for tables: `2025-01-31 14:03:12.345` in UTC. */
export function formatTime(date: Date | null | undefined): string {
  if (!date) return '-';
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** JSON on one line, cut to `max` characters. */
export function shortJson(value: unknown, max = 120): string {
  const text = JSON.stringify(value) ?? 'null';
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Cuts a text to one line of at most `max` characters. */
export function oneLine(text: string | null | undefined, max = 100): string {
  if (!text) return '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Pretty JSON for `--json` output. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `1 flow`, `2 flows`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}
