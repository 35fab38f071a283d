/**
 * Two databases on one server are fully independent installs: the same flow
 * slug in both, with their own definitions, runs, queues and events.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, databaseUrl, dropDatabase, useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import {
  completeTask,
  defineFlow,
  getRun,
  newWorkerId,
  onClient,
  queueRows,
  readMessages,
  startFlow,
  startTasks,
  type Db,
} from './support.js';

const first = useTestDatabase();
let secondName: string | undefined;
let secondClient: pg.Client | undefined;
let second: Db;

beforeAll(async () => {
  secondName = await createDatabase(true);
  secondClient = new pg.Client({ connectionString: databaseUrl(secondName) });
  secondClient.on('error', () => {});
  await secondClient.connect();
  second = onClient(secondClient);
});

afterAll(async () => {
  await secondClient?.end().catch(() => {});
  if (secondName) await dropDatabase(secondName);
});

describe('two databases on one server', () => {
  it('hold the same flow slug with their own options and steps', async () => {
    await defineFlow(first, 'shared', { maxAttempts: 2, steps: ['a', { slug: 'b', deps: ['a'] }] });
    await defineFlow(second, 'shared', { maxAttempts: 7, steps: ['x'] });
    expect(await first.query(`select opt_max_attempts from pgflow.flows where flow_slug = 'shared'`)).toEqual([{ opt_max_attempts: 2 }]);
    expect(await second.query(`select opt_max_attempts from pgflow.flows where flow_slug = 'shared'`)).toEqual([{ opt_max_attempts: 7 }]);
    expect((await first.query<{ step_slug: string }>(`select step_slug from pgflow.steps where flow_slug = 'shared' order by step_index`)).map((r) => r.step_slug)).toEqual([
      'a',
      'b',
    ]);
    expect((await second.query<{ step_slug: string }>(`select step_slug from pgflow.steps where flow_slug = 'shared'`)).map((r) => r.step_slug)).toEqual(['x']);
  });

  it('keep runs, queues and events apart', async () => {
    const firstEvents = await listen(await first.connect(), ['pgflow_events', 'shared']);
    const secondListener = new pg.Client({ connectionString: databaseUrl(secondName!) });
    secondListener.on('error', () => {});
    await secondListener.connect();
    try {
      const secondEvents = await listen(secondListener, ['pgflow_events', 'shared']);
      const runOne = await startFlow(first, 'shared', { db: 1 });
      const runTwo = await startFlow(second, 'shared', { db: 2 });

      // Each run exists only in its own database.
      expect((await first.query(`select 1 from pgflow.runs where run_id = $1`, [runTwo.run_id])).length).toBe(0);
      expect((await second.query(`select 1 from pgflow.runs where run_id = $1`, [runOne.run_id])).length).toBe(0);

      // Each queue holds only its own database's messages.
      const firstMessages = await readMessages(first, 'shared');
      expect(firstMessages.map((m) => [m.message.run_id, m.message.step_slug])).toEqual([[runOne.run_id, 'a']]);
      const secondMessages = await readMessages(second, 'shared');
      expect(secondMessages.map((m) => [m.message.run_id, m.message.step_slug])).toEqual([[runTwo.run_id, 'x']]);

      // Working one database's run leaves the other untouched.
      const worker = newWorkerId();
      const [taskTwo] = await startTasks(
        second,
        'shared',
        secondMessages.map((m) => m.msg_id),
        worker,
      );
      expect(taskTwo).toMatchObject({ run_id: runTwo.run_id, input: { run: { db: 2 } } });
      await completeTask(second, runTwo.run_id, 'x', { done: 2 });
      expect(await getRun(second, runTwo.run_id)).toMatchObject({ status: 'completed', output: { x: { done: 2 } } });
      expect(await getRun(first, runOne.run_id)).toMatchObject({ status: 'started', remaining_steps: 2 });
      expect((await queueRows(first, 'shared')).map((m) => m.message.run_id)).toEqual([runOne.run_id]);
      // A run id of one database is unknown to the other.
      await expect(completeTask(first, runTwo.run_id, 'x', {})).rejects.toThrow();

      // Events stay in their database.
      await firstEvents.waitFor('shared', () => true, 1);
      await secondEvents.waitFor('shared', (e) => e.event === 'run:completed', 1);
      expect(firstEvents.received.every((r) => r.event.payload.run_id === runOne.run_id)).toBe(true);
      expect(secondEvents.received.every((r) => r.event.payload.run_id === runTwo.run_id)).toBe(true);
      await secondEvents.stop();
      await firstEvents.stop();
    } finally {
      await secondListener.end();
    }
  });
});
