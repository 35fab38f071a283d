/**
 * The worker's rows in pgflow.workers: one worker id per flow queue is
 * registered at start, heartbeats keep them alive (a row that was cleaned up
 * meanwhile is registered again), and they are marked stopped at shutdown.
 */
import { errorMessage, isConnectionError } from '../core/retry.js';
import type { PgflowSql } from '../core/sql-api.js';
import type { Logger } from '../flow/logger.js';
import type { WorkerOptions } from './options.js';

export class WorkerRegistration {
  private heartbeat: NodeJS.Timeout | undefined;

  /** `workerIds`: the worker's id for each flow queue it serves, by flow slug. */
  constructor(
    private readonly sql: PgflowSql,
    private readonly logger: Logger,
    private readonly workerIds: ReadonlyMap<string, string>,
    private readonly options: Pick<WorkerOptions, 'functionName'>,
  ) {}

  /** Recorded as pgflow.workers.function_name. */
  private get functionName(): string {
    return this.options.functionName ?? 'pgflow-orm';
  }

  async register(): Promise<void> {
    const functionName = this.functionName;
    for (const [flowSlug, workerId] of this.workerIds) await this.sql.registerWorker(workerId, flowSlug, functionName);
  }

  startHeartbeat(interval: number): void {
    this.heartbeat = setInterval(() => void this.beat(), interval);
    this.heartbeat.unref();
  }

  stopHeartbeat(): void {
    clearInterval(this.heartbeat);
  }

  /** Marks every worker id stopped; a failure is logged, not thrown. */
  async markStopped(): Promise<void> {
    for (const workerId of this.workerIds.values()) {
      await this.sql.stopWorker(workerId).catch((error: unknown) => this.logger.warn('could not mark the worker stopped', { workerId, error: errorMessage(error) }));
    }
  }

  private async beat(): Promise<void> {
    for (const [flowSlug, workerId] of this.workerIds) {
      try {
        await this.sql.heartbeatWorker(workerId);
      } catch (error) {
        if ((error as { code?: string }).code === '42704') {
          // The worker row is gone (e.g. cleaned up): register again.
          await this.sql.registerWorker(workerId, flowSlug, this.functionName).catch(() => {});
        } else if (!isConnectionError(error)) {
          this.logger.warn('heartbeat failed', { workerId, error: errorMessage(error) });
        }
      }
    }
  }
}
