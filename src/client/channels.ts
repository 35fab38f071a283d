/**
 * The client's one LISTEN connection, shared by its event subscriptions and
 * its run waiters: which channels are listened to while someone needs them,
 * and who gets each notification.
 */
import { EVENTS_CHANNEL, parseEvent, type PgflowEvent } from '../core/events.js';
import { NotificationListener, type ConnectionSource } from '../core/listener.js';
import { errorMessage } from '../core/retry.js';
import type { AnyFlow } from '../flow/flow.js';
import type { Logger } from '../flow/logger.js';

/** The events after which a waiter reads its run again. */
export const FINISHING_EVENTS: ReadonlySet<PgflowEvent['type']> = new Set(['run:completed', 'run:failed', 'run:cancelled']);

export interface EventFilter {
  /** Only events of this flow (listens on the flow's channel instead of pgflow_events). */
  flow?: AnyFlow | string;
  /** Only events of this run. */
  runId?: string;
}

export type EventHandler = (event: PgflowEvent) => void;

/** Stops an onEvent subscription. */
export type Unsubscribe = () => Promise<void>;

interface Subscriber {
  runId: string | undefined;
  handle: EventHandler;
}

/** Someone waiting for a run to finish (see ./wait.ts). */
export interface RunWaiter {
  /** Re-reads the run and settles when it has finished. */
  check(): void;
  onEvent(event: PgflowEvent): void;
  /** Ends the wait with `error`. */
  cancel(error: Error): void;
}

export interface ChannelOptions {
  source: ConnectionSource;
  logger: Logger;
  pingInterval?: number;
}

export class ClientChannels {
  private readonly listener: NotificationListener;
  private readonly logger: Logger;
  private readonly subscribers = new Map<string, Set<Subscriber>>();
  private readonly waiters = new Map<string, Set<RunWaiter>>();
  private readonly channelUsers = new Map<string, number>();

  constructor(options: ChannelOptions) {
    this.logger = options.logger;
    this.listener = new NotificationListener({
      source: options.source,
      logger: options.logger,
      pingInterval: options.pingInterval,
      applicationName: 'pgflow-orm client (listen)',
      onNotification: (channel, payload) => this.dispatch(channel, payload),
      onConnected: ({ reconnected }) => {
        // A notification may have been lost while the connection was down: every waiter reads its run again.
        if (reconnected) for (const set of this.waiters.values()) for (const waiter of set) waiter.check();
      },
    });
  }

  addWaiter(runId: string, waiter: RunWaiter): void {
    let set = this.waiters.get(runId);
    if (!set) this.waiters.set(runId, (set = new Set()));
    set.add(waiter);
  }

  removeWaiter(runId: string, waiter: RunWaiter): void {
    const set = this.waiters.get(runId);
    set?.delete(waiter);
    if (set?.size === 0) this.waiters.delete(runId);
  }

  /** Calls `handler` for each event the filter lets through; resolves once listening. */
  async subscribe(handler: EventHandler, filter: EventFilter): Promise<Unsubscribe> {
    const channel = filter.flow === undefined ? EVENTS_CHANNEL : typeof filter.flow === 'string' ? filter.flow : filter.flow.slug;
    const subscriber: Subscriber = { runId: filter.runId, handle: handler };
    let set = this.subscribers.get(channel);
    if (!set) this.subscribers.set(channel, (set = new Set()));
    set.add(subscriber);
    await this.acquire(channel);
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      this.subscribers.get(channel)?.delete(subscriber);
      this.release(channel);
    };
  }

  /** Listens on `channel` (once for all its users). */
  async acquire(channel: string): Promise<void> {
    this.channelUsers.set(channel, (this.channelUsers.get(channel) ?? 0) + 1);
    await this.listener.start();
    await this.listener.listen(channel);
  }

  /**
   * Flow channels stay listened to for the client's lifetime (a LISTEN per
   * waited run would cost two round trips each); `pgflow_events`, which
   * carries every flow's events, only while someone subscribes to it.
   */
  release(channel: string): void {
    const users = (this.channelUsers.get(channel) ?? 1) - 1;
    if (users > 0) {
      this.channelUsers.set(channel, users);
      return;
    }
    this.channelUsers.delete(channel);
    if (channel === EVENTS_CHANNEL) void this.listener.unlisten(channel);
  }

  /** Ends every pending wait with `error` and closes the LISTEN connection. */
  async close(error: Error): Promise<void> {
    for (const set of [...this.waiters.values()]) for (const waiter of [...set]) waiter.cancel(error);
    await this.listener.close();
  }

  private dispatch(channel: string, payload: string): void {
    const event = parseEvent(payload);
    if (!event) return;
    for (const subscriber of this.subscribers.get(channel) ?? []) {
      if (subscriber.runId !== undefined && subscriber.runId !== event.runId) continue;
      try {
        subscriber.handle(event);
      } catch (error) {
        this.logger.error('an event handler threw', { event: event.type, error: errorMessage(error) });
      }
    }
    if (event.runId !== undefined && FINISHING_EVENTS.has(event.type)) {
      for (const waiter of this.waiters.get(event.runId) ?? []) waiter.onEvent(event);
    }
  }
}
