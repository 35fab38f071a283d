/**
 * A LISTEN client for the engine's pg_notify events: collects every
 * notification received on the channels it listens to, in arrival order.
 */
import type pg from 'pg';

export interface PgflowEventPayload {
  event_type: string;
  run_id: string;
  flow_slug: string;
  step_slug?: string;
  status: string;
  error_message?: string;
  [key: string]: unknown;
}

export interface PgflowEvent {
  event: string;
  topic: string;
  timestamp: number;
  payload: PgflowEventPayload;
}

export interface ReceivedEvent {
  channel: string;
  /** The notification's text exactly as received. */
  raw: string;
  event: PgflowEvent;
}

export interface EventListener {
  /** Everything received so far, in arrival order. */
  readonly received: ReceivedEvent[];
  /** What arrived on one channel, in arrival order. */
  on(channel: string): ReceivedEvent[];
  /** Waits until `count` events matching `match` arrived on `channel` (rejects after `timeoutMs`). */
  waitFor(channel: string, match: (event: PgflowEvent) => boolean, count: number, timeoutMs?: number): Promise<ReceivedEvent[]>;
  /** UNLISTEN everything and stop collecting. */
  stop(): Promise<void>;
}

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Issues `LISTEN` on each channel (quoted, so case is kept) on a dedicated client. */
export async function listen(client: pg.Client, channels: readonly string[]): Promise<EventListener> {
  const received: ReceivedEvent[] = [];
  const waiters = new Set<() => void>();
  const onNotification = (message: pg.Notification) => {
    const raw = message.payload ?? '';
    let event: PgflowEvent;
    try {
      event = JSON.parse(raw) as PgflowEvent;
    } catch {
      event = { event: '<unparseable>', topic: '', timestamp: Number.NaN, payload: { event_type: '', run_id: '', flow_slug: '', status: '' } };
    }
    received.push({ channel: message.channel, raw, event });
    for (const wake of waiters) wake();
  };
  client.on('notification', onNotification);
  for (const channel of channels) await client.query(`LISTEN ${quoteIdent(channel)}`);

  const on = (channel: string) => received.filter((r) => r.channel === channel);

  return {
    received,
    on,
    waitFor(channel, match, count, timeoutMs = 5_000) {
      const matching = () => on(channel).filter((r) => match(r.event));
      return new Promise<ReceivedEvent[]>((resolve, reject) => {
        const check = () => {
          const found = matching();
          if (found.length >= count) {
            cleanup();
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`waited ${timeoutMs} ms for ${count} events on ${channel}; got ${matching().length}: ${matching().map((r) => r.event.event).join(', ')}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async stop() {
      client.off('notification', onNotification);
      await client.query('UNLISTEN *');
    },
  };
}
