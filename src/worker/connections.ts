/**
 * The worker's database connections: the pool it queries through (its own,
 * from a connection string, or the app's), the dedicated LISTEN connection,
 * retrying start-up work while the database is unreachable, and closing them
 * at the end (an app's pool is left open).
 */
import pg from 'pg';
import { NotificationListener, type ConnectionSource, type ListenerOptions } from '../core/listener.js';
import { backoffDelay, errorMessage, isConnectionError, sleep } from '../core/retry.js';
import type { Logger } from '../flow/logger.js';
import type { WorkerOptions } from './options.js';

export class WorkerConnections {
  readonly pool: pg.Pool;
  readonly listener: NotificationListener;
  private readonly ownsPool: boolean;

  constructor(
    private readonly options: Pick<WorkerOptions, 'connectionString' | 'pool' | 'signal'>,
    private readonly logger: Logger,
    notifications: Pick<ListenerOptions, 'onNotification' | 'onConnected'>,
  ) {
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else if (options.connectionString) {
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: 4,
        application_name: 'pgflow-orm worker',
        connectionTimeoutMillis: 10_000,
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      });
      this.ownsPool = true;
    } else {
      throw new TypeError('startWorker: pass connectionString or pool');
    }
    this.pool.on('error', this.onPoolError);

    const source: ConnectionSource = options.pool ? { pool: options.pool } : { connectionString: options.connectionString! };
    this.listener = new NotificationListener({
      source,
      logger: this.logger,
      applicationName: 'pgflow-orm worker (listen)',
      onNotification: notifications.onNotification,
      onConnected: notifications.onConnected,
    });
  }

  private readonly onPoolError = (error: Error) => {
    this.logger.warn('an idle database connection failed', { error: error.message });
  };

  /** Runs `work`, retrying with backoff while the database is unreachable (until the worker's `signal` aborts). */
  async withRetry(what: string, work: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await work();
        return;
      } catch (error) {
        if (!isConnectionError(error) || this.options.signal?.aborted) throw error;
        const delay = backoffDelay(attempt, { initial: 200, max: 10_000 });
        this.logger.warn(`${what}: database unreachable; retrying in ${delay} ms`, { attempt: attempt + 1, error: errorMessage(error) });
        await sleep(delay, this.options.signal);
      }
    }
  }

  /** Closes the LISTEN connection and the worker's own pool; an app's pool only loses the worker's error listener. */
  async close(): Promise<void> {
    await this.listener.close().catch(() => {});
    // An own pool keeps its error listener: clients it is still closing may report.
    if (this.ownsPool) await this.pool.end().catch(() => {});
    else this.pool.off('error', this.onPoolError);
  }
}
