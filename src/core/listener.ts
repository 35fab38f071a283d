/**
 * A LISTEN connection that stays up: it holds one dedicated connection (a new
 * pg.Client for a connection string, or a client checked out of a pg.Pool and
 * destroyed afterwards), LISTENs on a changing set of channels, and when the
 * connection is lost it reconnects with backoff, LISTENs again and reports
 * the reconnection, so users can re-check whatever a lost notification might
 * have told them. A periodic ping detects connections that died silently.
 */
import pg from 'pg';
import { silentLogger, type Logger } from '../flow/logger.js';
import { backoffDelay, errorMessage, sleep } from './retry.js';

/** Where dedicated connections come from. */
export type ConnectionSource = { connectionString: string; pool?: undefined } | { pool: pg.Pool; connectionString?: undefined };

export interface ListenerOptions {
  source: ConnectionSource;
  onNotification(channel: string, payload: string): void;
  /** Called each time the connection is up with every channel listened to; `reconnected` is false the first time. */
  onConnected?(info: { reconnected: boolean }): void;
  logger?: Logger;
  /** Milliseconds between pings on an idle connection (default 15 000; 0 disables). */
  pingInterval?: number;
  /** Name shown in pg_stat_activity (connection-string sources only). */
  applicationName?: string;
}

type DedicatedClient = pg.Client | pg.PoolClient;

export const quoteIdentifier = (name: string) => `"${name.replace(/"/g, '""')}"`;

export class NotificationListener {
  private readonly channels = new Set<string>();
  private client: DedicatedClient | undefined;
  private readonly closing = new AbortController();
  private readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private loop: Promise<void> | undefined;
  private connectedBefore = false;
  private readonly logger: Logger;

  constructor(private readonly options: ListenerOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Starts connecting (in the background; failures are retried) and resolves once connected. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.whenConnected();
  }

  /** Resolves once the connection is up with every channel listened to (at once when it already is). */
  whenConnected(): Promise<void> {
    if (this.client) return Promise.resolve();
    if (this.closing.signal.aborted) return Promise.reject(new Error('the listener is closed'));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Adds a channel; resolves once LISTEN is active on a live connection. */
  async listen(channel: string): Promise<void> {
    const added = !this.channels.has(channel);
    this.channels.add(channel);
    this.loop ??= this.run();
    const client = this.client;
    if (!client) return this.whenConnected();
    if (!added) return;
    try {
      await client.query(`LISTEN ${quoteIdentifier(channel)}`);
    } catch (error) {
      // The connection is going away: the reconnection LISTENs on every channel again.
      this.logger.debug('LISTEN failed; waiting for the reconnection', { channel, error: errorMessage(error) });
      this.lose(client, error);
      return this.whenConnected();
    }
  }

  async unlisten(channel: string): Promise<void> {
    if (!this.channels.delete(channel)) return;
    await this.client?.query(`UNLISTEN ${quoteIdentifier(channel)}`).catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closing.signal.aborted) return this.loop;
    this.closing.abort();
    const client = this.client;
    if (client) this.lose(client, undefined);
    await this.loop;
  }

  private lost: ((error: unknown) => void) | undefined;

  private lose(client: DedicatedClient, error: unknown): void {
    if (this.client === client) this.lost?.(error);
  }

  private async open(): Promise<DedicatedClient> {
    const { source } = this.options;
    if (source.pool) return source.pool.connect();
    const client = new pg.Client({ connectionString: source.connectionString, keepAlive: true, application_name: this.options.applicationName });
    // Errors during connect are reported by connect() itself; keep one listener so none is unhandled.
    client.on('error', () => {});
    try {
      await client.connect();
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    return client;
  }

  private release(client: DedicatedClient, error: unknown): void {
    if ('release' in client && typeof client.release === 'function') {
      // Destroy rather than return it: it holds LISTENs and may be broken.
      client.release(error instanceof Error ? error : new Error('listener closed'));
    } else {
      void client.end().catch(() => {});
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closing.signal.aborted) {
      let client: DedicatedClient;
      try {
        client = await this.open();
      } catch (error) {
        const delay = backoffDelay(failures++);
        this.logger.warn(`cannot open the notification connection; retrying in ${delay} ms`, { attempt: failures, error: errorMessage(error) });
        await sleep(delay, this.closing.signal);
        continue;
      }
      const lost = new Promise<unknown>((resolve) => {
        this.lost = resolve;
      });
      const onError = (error: unknown) => this.lose(client, error);
      const onEnd = () => this.lose(client, new Error('connection ended'));
      const onNotification = (message: pg.Notification) => {
        try {
          this.options.onNotification(message.channel, message.payload ?? '');
        } catch (error) {
          this.logger.error('notification handler failed', { channel: message.channel, error: errorMessage(error) });
        }
      };
      client.on('error', onError);
      client.on('end', onEnd);
      client.on('notification', onNotification);
      this.client = client;
      let ping: NodeJS.Timeout | undefined;
      try {
        for (const channel of this.channels) await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        if (this.closing.signal.aborted) throw new Error('closed');
        const reconnected = this.connectedBefore;
        if (reconnected) this.logger.info('notification connection restored', { afterFailures: failures });
        this.connectedBefore = true;
        failures = 0;
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        for (const waiter of waiters) waiter.resolve();
        try {
          this.options.onConnected?.({ reconnected });
        } catch (error) {
          this.logger.error('onConnected handler failed', { error: errorMessage(error) });
        }
        ping = this.startPing(client);
      } catch (error) {
        this.lose(client, error);
      }
      const error = await lost;
      clearInterval(ping);
      this.client = undefined;
      this.lost = undefined;
      client.off('notification', onNotification);
      client.off('end', onEnd);
      this.release(client, error);
      // Keep an error listener: a destroyed socket may still report.
      client.off('error', onError);
      client.on('error', () => {});
      if (this.closing.signal.aborted) break;
      const delay = backoffDelay(failures++);
      this.logger.warn(`notification connection lost; reconnecting in ${delay} ms`, { error: errorMessage(error) });
      await sleep(delay, this.closing.signal);
    }
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const waiter of waiters) waiter.reject(new Error('the listener is closed'));
  }

  private startPing(client: DedicatedClient): NodeJS.Timeout | undefined {
    const interval = this.options.pingInterval ?? 15_000;
    if (interval <= 0) return undefined;
    const timer = setInterval(() => {
      const timeout = setTimeout(() => this.lose(client, new Error(`no answer to a ping within ${interval} ms`)), interval);
      client.query('select 1').then(
        () => clearTimeout(timeout),
        (error: unknown) => {
          clearTimeout(timeout);
          this.lose(client, error);
        },
      );
    }, interval);
    timer.unref();
    return timer;
  }
}
