/**
 * Live updates: the engine's events, read with one LISTEN, turned into
 * fresh view data pushed to the browsers over Server-Sent Events.
 *
 * Browsers connect to `api/live?view=...` and get the view's data at once,
 * then again whenever an event can have changed it. Viewers of the same view
 * share one subscription, so a burst of events costs one read per view: the
 * first event schedules a read 50 ms later, further events while that read
 * runs schedule the next one, and reads of a view are at least a few hundred
 * milliseconds apart. Unchanged data is not sent again. Views that change
 * without an event (see views.ts) are also read on a timer, and every view
 * is read again after the LISTEN connection comes back. The run page also
 * receives each of its run's events as it arrives. Every event type counts:
 * a cancelled or retried run, a skipped step, a paused or resumed flow.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SqlExecutor } from '../../core/connection.js';
import type { Logger } from '../../flow/logger.js';
import { HttpError } from './errors.js';
import { parseLiveEvent } from './events.js';
import type { NotificationSource } from './notifications.js';
import { openSseStream, type SseStream } from './sse.js';
import { loadView, minimumGap, refreshInterval, viewChangedBy, viewKey, viewRelaysEvent, type ViewSpec } from './views.js';

/** How long the first event of a burst waits for the rest before the view is read. */
const COALESCE_MS = 50;

interface Subscription {
  key: string;
  spec: ViewSpec;
  clients: Set<SseStream>;
  /** Clients that have not received the view's data yet. */
  waiting: Set<SseStream>;
  lastJson: string | undefined;
  lastRead: number;
  reading: boolean;
  /** An event arrived while a read was running. */
  dirty: boolean;
  timer: NodeJS.Timeout | undefined;
  periodic: NodeJS.Timeout | undefined;
}

export class LiveHub {
  private readonly subscriptions = new Map<string, Subscription>();
  private listening: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly db: SqlExecutor,
    private readonly notifications: NotificationSource,
    private readonly logger: Logger,
  ) {}

  /** Subscribers connected now (for tests and shutdown). */
  get clientCount(): number {
    let count = 0;
    for (const subscription of this.subscriptions.values()) count += subscription.clients.size;
    return count;
  }

  /** Serves one browser's live connection for `spec` until it goes away. */
  connect(req: IncomingMessage, res: ServerResponse, spec: ViewSpec): void {
    this.startListening();
    const key = viewKey(spec);
    let subscription = this.subscriptions.get(key);
    if (!subscription) {
      subscription = { key, spec, clients: new Set(), waiting: new Set(), lastJson: undefined, lastRead: 0, reading: false, dirty: false, timer: undefined, periodic: undefined };
      this.subscriptions.set(key, subscription);
    }
    const joined = subscription;
    const stream = openSseStream(req, res, () => this.leave(joined, stream));
    joined.clients.add(stream);
    if (joined.lastJson !== undefined && !joined.reading) stream.sendJson('update', joined.lastJson);
    else joined.waiting.add(stream);
    // A new viewer gets data read after it connected, so nothing between its page load and now is missed.
    this.changed(joined, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const subscription of this.subscriptions.values()) {
      clearTimeout(subscription.timer);
      clearTimeout(subscription.periodic);
      for (const client of subscription.clients) client.end();
    }
    this.subscriptions.clear();
    await this.notifications.close();
  }

  private startListening(): void {
    if (this.listening || this.closed) return;
    this.listening = this.notifications
      .start({
        onNotification: (payload) => this.onNotification(payload),
        onConnected: (reconnected) => {
          if (!reconnected) return;
          // Notifications sent while the connection was down are lost: read every view again.
          for (const subscription of this.subscriptions.values()) this.changed(subscription, 0);
        },
      })
      .catch((error: unknown) => {
        this.logger.error('the dashboard cannot listen for events', { error: error instanceof Error ? error.message : String(error) });
        this.listening = undefined;
      });
  }

  private onNotification(payload: string): void {
    const event = parseLiveEvent(payload);
    if (!event) return;
    for (const subscription of this.subscriptions.values()) {
      if (!viewChangedBy(subscription.spec, event)) continue;
      if (viewRelaysEvent(subscription.spec, event)) for (const client of subscription.clients) client.send('event', event);
      this.changed(subscription, COALESCE_MS);
    }
  }

  private leave(subscription: Subscription, stream: SseStream): void {
    subscription.clients.delete(stream);
    subscription.waiting.delete(stream);
    if (subscription.clients.size > 0 || this.subscriptions.get(subscription.key) !== subscription) return;
    clearTimeout(subscription.timer);
    clearTimeout(subscription.periodic);
    this.subscriptions.delete(subscription.key);
  }

  /** The view may have changed: read it again after `delay` ms, keeping reads `minimumGap` apart. */
  private changed(subscription: Subscription, delay: number): void {
    if (this.closed) return;
    if (subscription.reading) {
      subscription.dirty = true;
      return;
    }
    if (subscription.timer) return;
    const wait = Math.max(delay, subscription.lastRead + minimumGap(subscription.spec) - Date.now());
    subscription.timer = setTimeout(() => {
      subscription.timer = undefined;
      void this.read(subscription);
    }, wait);
  }

  private async read(subscription: Subscription): Promise<void> {
    // Read only once LISTEN is active, so no change between this read and the first notification is missed.
    if (this.listening) await this.listening;
    if (this.closed || !this.subscriptions.has(subscription.key)) return;
    clearTimeout(subscription.periodic);
    subscription.periodic = undefined;
    subscription.reading = true;
    subscription.dirty = false;
    subscription.lastRead = Date.now();
    let data: unknown = null;
    try {
      data = await loadView(this.db, subscription.spec);
      const json = JSON.stringify(data);
      const receivers = json !== subscription.lastJson ? subscription.clients : subscription.waiting;
      subscription.lastJson = json;
      for (const client of receivers) client.sendJson('update', json);
      subscription.waiting.clear();
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      if (status >= 500) this.logger.warn('a live view could not be read', { view: subscription.key, error: message });
      for (const client of subscription.clients) client.send('problem', { status, error: message });
    } finally {
      subscription.reading = false;
    }
    if (this.closed || !this.subscriptions.has(subscription.key)) return;
    if (subscription.dirty) {
      this.changed(subscription, 0);
      return;
    }
    const interval = refreshInterval(subscription.spec, data);
    if (interval !== null) {
      subscription.periodic = setTimeout(() => this.changed(subscription, 0), interval);
      subscription.periodic.unref();
    }
  }
}
