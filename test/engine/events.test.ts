/**
 * Decision 11: events over pg_notify, received by real LISTEN clients on
 * `pgflow_events` and on the channel named after the flow, in order, for a run
 * that completes and a run that fails; the envelope and payload shape; no
 * outputs in events; large outputs and error messages break nothing.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen, type EventListener, type PgflowEvent, type ReceivedEvent } from '../support/events.js';
import {
  completeTask,
  defineFlow,
  diamondSteps,
  failTask,
  getRun,
  newWorkerId,
  readMessages,
  sleep,
  startFlow,
  startTasks,
  takeTask,
  uniqueSlug,
} from './support.js';

const db = useTestDatabase();

async function listener(flow: string): Promise<EventListener> {
  return listen(await db.connect(), ['pgflow_events', flow]);
}

const ofRun = (runId: string) => (event: PgflowEvent) => event.payload.run_id === runId;

/** `event` or `event@step` for each received event. */
const names = (received: ReceivedEvent[]) => received.map((r) => (r.event.payload.step_slug ? `${r.event.event}@${r.event.payload.step_slug}` : r.event.event));

function expectEnvelope(received: ReceivedEvent, flow: string, runId: string) {
  const { event } = received;
  expect(Object.keys(event).sort()).toEqual(['event', 'payload', 'timestamp', 'topic']);
  expect(event.topic).toBe(flow);
  expect(typeof event.timestamp).toBe('number');
  expect(Math.abs(event.timestamp - Date.now() / 1000)).toBeLessThan(120);
  expect(event.payload.event_type).toBe(event.event);
  expect(event.payload.run_id).toBe(runId);
  expect(event.payload.flow_slug).toBe(flow);
  expect(typeof event.payload.status).toBe('string');
  expect(event.payload).not.toHaveProperty('output');
  expect(Buffer.byteLength(received.raw)).toBeLessThan(8000);
  if (event.event.startsWith('step:')) expect(typeof event.payload.step_slug).toBe('string');
  else expect(event.payload.step_slug).toBeUndefined();
}

describe('events of a run that completes', () => {
  it('arrive on pgflow_events and on the flow channel, in order, with the envelope of decision 11', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_ok'), { steps: [{ slug: 'first' }, { slug: 'second', deps: ['first'] }] });
    const events = await listener(flow);
    const run = await startFlow(db, flow, { secret: 'input' });
    const worker = newWorkerId();
    await takeTask(db, flow, run.run_id, 'first', worker);
    await completeTask(db, run.run_id, 'first', { out: 'first output' });
    await takeTask(db, flow, run.run_id, 'second', worker);
    await completeTask(db, run.run_id, 'second', { out: 'second output' });

    const expected = ['run:started', 'step:started@first', 'step:completed@first', 'step:started@second', 'step:completed@second', 'run:completed'];
    for (const channel of ['pgflow_events', flow]) {
      const received = await events.waitFor(channel, ofRun(run.run_id), expected.length);
      await sleep(100);
      const all = events.on(channel).filter((r) => ofRun(run.run_id)(r.event));
      expect(names(all), channel).toEqual(expected);
      for (const r of all) expectEnvelope(r, flow, run.run_id);
      const statuses = Object.fromEntries(all.map((r) => [names([r])[0], r.event.payload.status]));
      expect(statuses).toEqual({
        'run:started': 'started',
        'step:started@first': 'started',
        'step:completed@first': 'completed',
        'step:started@second': 'started',
        'step:completed@second': 'completed',
        'run:completed': 'completed',
      });
      const stamps = received.map((r) => r.event.timestamp);
      expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
      // Nothing of the outputs travels in the events.
      for (const r of all) expect(r.raw).not.toContain('output"');
      for (const r of all) expect(r.raw).not.toContain('second output');
    }
    // The same notification text on both channels.
    expect(events.on(flow).map((r) => r.raw)).toEqual(events.on('pgflow_events').filter((r) => ofRun(run.run_id)(r.event)).map((r) => r.raw));
    expect((await getRun(db, run.run_id)).status).toBe('completed');
    await events.stop();
  });

  it('step:started is sent when a worker starts the task, not when the step is queued', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_start'), { steps: ['only'] });
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    await events.waitFor(flow, ofRun(run.run_id), 1);
    await sleep(150);
    expect(names(events.on(flow))).toEqual(['run:started']);
    await startTasks(
      db,
      flow,
      (await readMessages(db, flow)).map((m) => m.msg_id),
      newWorkerId(),
    );
    await events.waitFor(flow, ofRun(run.run_id), 2);
    expect(names(events.on(flow))).toEqual(['run:started', 'step:started@only']);
    await events.stop();
  });

  it('an empty flow: run:started then run:completed', async () => {
    const flow = uniqueSlug('events_empty');
    await db.query(`select pgflow.create_flow($1)`, [flow]);
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    await events.waitFor(flow, ofRun(run.run_id), 2);
    expect(names(events.on(flow))).toEqual(['run:started', 'run:completed']);
    await events.stop();
  });

  it('a 100 kB output completes normally and is not in any event', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_big'), { steps: ['big'] });
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'big');
    const output = { blob: 'y'.repeat(100_000) };
    expect(await completeTask(db, run.run_id, 'big', output)).toHaveLength(1);
    const received = await events.waitFor(flow, ofRun(run.run_id), 4);
    expect(names(received)).toEqual(['run:started', 'step:started@big', 'step:completed@big', 'run:completed']);
    for (const r of received) {
      expect(r.raw).not.toContain('yyyyyyyy');
      expectEnvelope(r, flow, run.run_id);
    }
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { big: output } });
    await events.stop();
  });
});

describe('the flow channel', () => {
  it('is the flow slug exactly, capital letters included (LISTEN "<flow>")', async () => {
    const flow = await defineFlow(db, uniqueSlug('Camel_Events'), { steps: ['only'] });
    const client = await db.connect();
    const events = await listen(client, [flow]);
    const run = await startFlow(db, flow);
    const [received] = await events.waitFor(flow, ofRun(run.run_id), 1);
    expect(received!.channel).toBe(flow);
    expectEnvelope(received!, flow, run.run_id);
    await events.stop();
  });
});

describe('events of a run that fails', () => {
  it('step:failed only when the step fails for good (not on a retry), then run:failed with error_message', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_fail'), { maxAttempts: 2, baseDelay: 0, steps: [{ slug: 'ok' }, { slug: 'doomed', deps: ['ok'] }] });
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    const worker = newWorkerId();
    await takeTask(db, flow, run.run_id, 'ok', worker);
    await completeTask(db, run.run_id, 'ok', 1);
    const task = await takeTask(db, flow, run.run_id, 'doomed', worker);
    await failTask(db, run.run_id, 'doomed', 'first try failed');
    await events.waitFor(flow, ofRun(run.run_id), 4);
    await sleep(150);
    expect(names(events.on(flow))).toEqual(['run:started', 'step:started@ok', 'step:completed@ok', 'step:started@doomed']);
    // The second attempt sends no second step:started.
    await startTasks(db, flow, [task.msg_id], worker);
    await failTask(db, run.run_id, 'doomed', 'second try failed');

    const expected = ['run:started', 'step:started@ok', 'step:completed@ok', 'step:started@doomed', 'step:failed@doomed', 'run:failed'];
    for (const channel of ['pgflow_events', flow]) {
      await events.waitFor(channel, ofRun(run.run_id), expected.length);
      await sleep(100);
      const all = events.on(channel).filter((r) => ofRun(run.run_id)(r.event));
      expect(names(all), channel).toEqual(expected);
      for (const r of all) expectEnvelope(r, flow, run.run_id);
      const stepFailed = all.find((r) => r.event.event === 'step:failed')!.event.payload;
      expect(stepFailed).toMatchObject({ status: 'failed', step_slug: 'doomed', error_message: 'second try failed' });
      const runFailed = all.find((r) => r.event.event === 'run:failed')!.event.payload;
      expect(runFailed).toMatchObject({ status: 'failed', run_id: run.run_id, flow_slug: flow, error_message: 'second try failed' });
    }
    await events.stop();
  });

  it('when other work of the run is cut short, run:failed is the last event and the failing step fails first', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_cancel'), { maxAttempts: 1, steps: diamondSteps });
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'start');
    await completeTask(db, run.run_id, 'start', {});
    await takeTask(db, flow, run.run_id, 'branch_a');
    await takeTask(db, flow, run.run_id, 'branch_b');
    await failTask(db, run.run_id, 'branch_b', 'b broke');
    await events.waitFor(flow, (e) => ofRun(run.run_id)(e) && e.event === 'run:failed', 1);
    await sleep(100);
    const all = names(events.on(flow));
    expect(all.slice(0, 5)).toEqual(['run:started', 'step:started@start', 'step:completed@start', 'step:started@branch_a', 'step:started@branch_b']);
    expect(all.at(-1)).toBe('run:failed');
    const failures = all.slice(5, -1);
    expect(failures[0]).toBe('step:failed@branch_b');
    // The only other events allowed: branch_a failing as part of the run's failure.
    expect(failures.slice(1).every((name) => name === 'step:failed@branch_a')).toBe(true);
    expect(all).not.toContain('step:completed@branch_a');
    expect(events.on(flow).at(-1)!.event.payload.error_message).toBe('b broke');
    await events.stop();
  });

  it('a 20 kB error message fails the run normally; its events stay under the pg_notify limit', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_long_error'), { maxAttempts: 1, steps: ['a'] });
    const events = await listener(flow);
    const run = await startFlow(db, flow);
    await takeTask(db, flow, run.run_id, 'a');
    const message = `Error: ${'z'.repeat(20_000)}`;
    expect(await failTask(db, run.run_id, 'a', message)).toHaveLength(1);
    expect((await getRun(db, run.run_id)).status).toBe('failed');
    const received = await events.waitFor(flow, ofRun(run.run_id), 4);
    expect(names(received)).toEqual(['run:started', 'step:started@a', 'step:failed@a', 'run:failed']);
    for (const r of received) expectEnvelope(r, flow, run.run_id);
    const runFailed = received.at(-1)!.event.payload;
    expect(typeof runFailed.error_message).toBe('string');
    expect(runFailed.error_message!.startsWith('Error: zzzz')).toBe(true);
    await events.stop();
  });
});

describe('events of concurrent transactions', () => {
  it('arrive in commit order', async () => {
    const flow = await defineFlow(db, uniqueSlug('events_commit'), { steps: ['only'] });
    const events = await listener(flow);
    const slow = await db.connect();
    const fast = await db.connect();
    await slow.query('begin');
    const [slowRun] = (await slow.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow])).rows;
    const [fastRun] = (await fast.query<{ run_id: string }>(`select * from pgflow.start_flow($1, '{}'::jsonb)`, [flow])).rows;
    await slow.query('commit');
    const received = await events.waitFor(flow, () => true, 2);
    expect(received.map((r) => r.event.payload.run_id)).toEqual([fastRun!.run_id, slowRun!.run_id]);
    await events.stop();
  });
});
