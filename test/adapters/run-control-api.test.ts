/**
 * The typed wrappers of run control, schedules and pruning (pgflowSql(db)),
 * over node-postgres and both postgres.js majors: records come back
 * camelCased with Date timestamps, and "nothing to do" comes back as null.
 */
import { describe, expect, it } from 'vitest';
import type { PgflowConnection } from '../../src/core/connection.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { useTestDatabase } from '../support/database.js';
import { POSTGRES_JS } from '../support/postgres-js.js';
import { useLocalPool } from './pool.js';

const db = useTestDatabase();
const pool = useLocalPool(db);

const CONNECTIONS: { name: string; use: <T>(body: (connection: PgflowConnection) => Promise<T>) => Promise<T> }[] = [
  { name: 'node-postgres', use: (body) => body(pool()) },
  ...POSTGRES_JS.map((driver) => ({
    name: driver.name,
    use: async <T,>(body: (connection: PgflowConnection) => Promise<T>) => {
      const sql = driver.connect(db.url, { max: 2, onnotice: () => {} });
      try {
        return await body(sql);
      } finally {
        await sql.end();
      }
    },
  })),
];

describe.each(CONNECTIONS)('over $name', ({ name, use }) => {
  const flowSlug = `api_${name.replace(/[^a-z0-9]+/gi, '_').toLowerCase()}`;

  it('starts idempotently, cancels, retries, pauses and resumes', async () => {
    await use(async (connection) => {
      const api = pgflowSql(connection);
      await api.createFlow(flowSlug, { maxAttempts: 1 });
      await api.addStep(flowSlug, 'only');
      const run = await api.startFlow(flowSlug, { n: 1 }, { idempotencyKey: 'k1' });
      expect(run).toMatchObject({ idempotencyKey: 'k1', status: 'started', cancelledAt: null });
      expect((await api.startFlow(flowSlug, { n: 2 }, { idempotencyKey: 'k1' })).runId).toBe(run.runId);

      const cancelled = await api.cancelRun(run.runId, 'not needed');
      expect(cancelled).toMatchObject({ runId: run.runId, status: 'cancelled', cancelReason: 'not needed' });
      expect(cancelled!.cancelledAt).toBeInstanceOf(Date);
      expect(await api.cancelRun(run.runId)).toBeNull();

      expect(await api.retryRun(run.runId)).toMatchObject({ status: 'started', cancelledAt: null });
      expect(await api.retryRun(run.runId)).toBeNull();

      const paused = await api.pauseFlow(flowSlug);
      expect(paused.pausedAt).toBeInstanceOf(Date);
      expect(await api.claimTasks(flowSlug, '00000000-0000-4000-8000-0000000000aa')).toEqual([]);
      expect((await api.resumeFlow(flowSlug)).pausedAt).toBeNull();
      expect((await api.claimTasks(flowSlug, '00000000-0000-4000-8000-0000000000aa')).map((task) => task.runId)).toEqual([run.runId]);
    });
  });

  it('schedules a flow, fires a tick once, and prunes', async () => {
    await use(async (connection) => {
      const api = pgflowSql(connection);
      const schedule = await api.scheduleFlow(flowSlug, 'hourly', '0 * * * *', { from: 'schedule' }, 'Europe/Berlin');
      expect(schedule).toMatchObject({ flowSlug, scheduleName: 'hourly', cron: '0 * * * *', input: { from: 'schedule' }, timezone: 'Europe/Berlin' });
      expect(schedule.createdAt).toBeInstanceOf(Date);
      expect(await api.cronProblem('0 * * *')).toBe(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), '0 * * *' has 4`);
      expect(await api.cronProblem('0 * * * *')).toBeNull();

      const tick = new Date('2026-12-06T12:00:00Z');
      const runId = await api.fireSchedule(flowSlug, 'hourly', tick);
      expect(runId).toMatch(/^[0-9a-f-]{36}$/);
      expect(await api.fireSchedule(flowSlug, 'hourly', tick)).toBeNull();
      expect(await api.unscheduleFlow(flowSlug, 'hourly')).toBe(true);
      expect(await api.unscheduleFlow(flowSlug, 'hourly')).toBe(false);

      expect(await api.pruneBatch('1 day', 10)).toEqual({ prunedRuns: 0, prunedStepStates: 0, prunedStepTasks: 0, prunedMessages: 0 });
      await api.cancelRun(runId!);
      expect(await api.pruneBatch('0 seconds', 10)).toMatchObject({ prunedRuns: expect.any(Number) });
      expect(await api.getRunWithStates(runId!)).toBeNull();
    });
  });
});
