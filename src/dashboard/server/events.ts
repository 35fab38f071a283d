/**
 * The engine's notifications as the dashboard relays them. Every event the
 * engine sends on `pgflow_events` is read, whatever its type: the run and
 * step events (`run:started`, `step:completed`, `step:skipped`,
 * `run:cancelled`, `run:retried`, …) and the flow events without a run
 * (`flow:paused`, `flow:resumed`), and any type a newer engine adds. The
 * payload carries no outputs, so nothing here is large.
 */
import type { LiveEvent } from '../api-types.js';

const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

/** The notification's event, or undefined when it is not a pgflow event. */
export function parseLiveEvent(notification: string): LiveEvent | undefined {
  let envelope: { event?: unknown; timestamp?: unknown; payload?: unknown };
  try {
    envelope = JSON.parse(notification) as typeof envelope;
  } catch {
    return undefined;
  }
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const payload = envelope.payload;
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const fields = payload as Record<string, unknown>;
  const type = text(fields.event_type) ?? text(envelope.event);
  const flowSlug = text(fields.flow_slug);
  if (type === null || !/^(run|step|flow):[a-z_]+$/.test(type) || flowSlug === null) return undefined;
  const runId = text(fields.run_id);
  if (runId === null && !type.startsWith('flow:')) return undefined;
  const at = typeof envelope.timestamp === 'number' ? new Date(envelope.timestamp * 1000) : new Date();
  return {
    type,
    flowSlug,
    runId,
    stepSlug: text(fields.step_slug),
    status: text(fields.status),
    errorMessage: text(fields.error_message),
    skipReason: text(fields.skip_reason),
    reason: text(fields.reason),
    at: Number.isNaN(at.getTime()) ? new Date().toISOString() : at.toISOString(),
  };
}
