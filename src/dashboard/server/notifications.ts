/**
 * The engine's events for the dashboard: one LISTEN on channel
 * `pgflow_events`, kept up across lost connections, over node-postgres (a
 * dedicated client from a connection string or a pool, see
 * src/core/listener.ts) or over postgres.js (its own `sql.listen`, which
 * reconnects by itself). Each (re)connection is reported, because
 * notifications sent while disconnected are lost and the views must be read
 * again.
 */
import { EVENTS_CHANNEL } from '../../core/events.js';
import { NotificationListener, type ConnectionSource } from '../../core/listener.js';
import type { Logger } from '../../flow/logger.js';

export interface NotificationHandlers {
  onNotification(payload: string): void;
  /** Called whenever the LISTEN is (again) active; `reconnected` is false the first time. */
  onConnected(reconnected: boolean): void;
}

export interface NotificationSource {
  /** Starts listening; resolves once the first LISTEN is active. */
  start(handlers: NotificationHandlers): Promise<void>;
  close(): Promise<void>;
}

/** node-postgres: a NotificationListener on a connection string or a pool. */
export function pgNotifications(source: ConnectionSource, logger: Logger): NotificationSource {
  let listener: NotificationListener | undefined;
  return {
    async start(handlers) {
      listener = new NotificationListener({
        source,
        logger,
        applicationName: 'pgflow-orm dashboard (listen)',
        onNotification: (_channel, payload) => handlers.onNotification(payload),
        onConnected: ({ reconnected }) => handlers.onConnected(reconnected),
      });
      await listener.listen(EVENTS_CHANNEL);
    },
    async close() {
      await listener?.close();
    },
  };
}

/** The part of a postgres.js `sql` this module uses. */
export interface PostgresJsListen {
  listen(channel: string, onNotify: (payload: string) => void, onListen?: () => void): Promise<{ unlisten(): Promise<void> }>;
}

/** postgres.js: `sql.listen`, whose third argument is called on every (re)connection. */
export function postgresJsNotifications(sql: PostgresJsListen): NotificationSource {
  let subscription: { unlisten(): Promise<void> } | undefined;
  return {
    async start(handlers) {
      let connectedBefore = false;
      subscription = await sql.listen(
        EVENTS_CHANNEL,
        (payload) => handlers.onNotification(payload),
        () => {
          handlers.onConnected(connectedBefore);
          connectedBefore = true;
        },
      );
    },
    async close() {
      await subscription?.unlisten().catch(() => {});
    },
  };
}
