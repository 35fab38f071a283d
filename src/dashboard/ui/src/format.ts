/** Durations, times, counts and rates as the pages show them. */

/** `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 48 * 60) return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(minutes / 1440)} d ${Math.floor((minutes % 1440) / 60)} h`;
}

export const between = (from: string | null | undefined, to: string | null | undefined) =>
  from && to ? new Date(to).getTime() - new Date(from).getTime() : null;

/** How long ago, e.g. `3.20 s ago`. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '–';
  return `${duration(now - new Date(iso).getTime())} ago`;
}

/** A local date and time with milliseconds: `2026-01-31 14:03:12.345`. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

/** `14:03` or `14:03:12`. */
export function clock(iso: string, seconds = false): string {
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ''}`;
}

export const count = (value: number) => value.toLocaleString('en');

export const percent = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(value < 0.1 && value > 0 ? 1 : 0)} %`);

/** The end of a run: completed_at, failed_at, cancelled_at, or null while it runs. */
export const runEnd = (run: { completedAt: string | null; failedAt: string | null; cancelledAt: string | null }) => run.completedAt ?? run.failedAt ?? run.cancelledAt;

/** Why a step was skipped, in words (the engine's skip_reason). */
export function skipReasonText(reason: string | null | undefined): string {
  switch (reason) {
    case 'condition_unmet':
      return 'condition not met';
    case 'handler_failed':
      return 'its task failed its last attempt';
    case 'dependency_skipped':
      return 'a step it depends on was skipped';
    default:
      return reason ?? 'no reason recorded';
  }
}
