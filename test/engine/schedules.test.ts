/**
 * Schedules without pg_cron: schedule_flow checks and stores a cron
 * schedule, fire_schedule starts the run of one tick exactly once however
 * many callers race, unschedule_flow removes it.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { defineFlow, errorOf, uniqueSlug } from './support.js';

const db = useTestDatabase();

const schedule = (flow: string, name: string, cron: string, input: unknown = {}, timezone = 'UTC') =>
  db.query(`select * from pgflow.schedule_flow($1, $2, $3, $4::jsonb, $5)`, [flow, name, cron, JSON.stringify(input), timezone]);

describe('cron_problem', () => {
  it.each([
    '* * * * *',
    '*/15 * * * *',
    '0 9 * * 1-5',
    '30 2 1,15 * *',
    '0 0 1 JAN,jul *',
    '5 4 * * sun',
    '0-30/10 8-18/2 * * 0,7',
    '  0   0  *  *  *  ',
  ])('%s is valid', async (cron) => {
    expect(await db.query(`select pgflow.cron_problem($1) as problem`, [cron])).toEqual([{ problem: null }]);
  });

  it.each([
    ['', 'the cron expression is empty'],
    ['* * * *', `a cron expression has 5 fields (minute hour day-of-month month day-of-week), '* * * *' has 4`],
    ['* * * * * *', `a cron expression has 5 fields (minute hour day-of-month month day-of-week), '* * * * * *' has 6`],
    ['60 * * * *', `the minute field '60' of '60 * * * *' is out of range (0-59)`],
    ['* 24 * * *', `the hour field '24' of '* 24 * * *' is out of range (0-23)`],
    ['* * 0 * *', `the day of month field '0' of '* * 0 * *' is out of range (1-31)`],
    ['* * * 13 *', `the month field '13' of '* * * 13 *' is out of range (1-12)`],
    ['* * * * 8', `the day of week field '8' of '* * * * 8' is out of range (0-7)`],
    ['5-1 * * * *', `the minute field '5-1' of '5-1 * * * *' is out of range (0-59)`],
    ['*/0 * * * *', `the minute field '*/0' of '*/0 * * * *' has a step of 0`],
    ['@daily * * * *', `the minute field '@daily' of '@daily * * * *' is not a value, a range a-b or *, with an optional /step`],
    ['* * * FOO *', `the month field 'FOO' of '* * * FOO *' is not a value, a range a-b or *, with an optional /step`],
    ['99999999999 * * * *', `the minute field '99999999999' of '99999999999 * * * *' is out of range (0-59)`],
  ])('%j: %s', async (cron, problem) => {
    expect(await db.query(`select pgflow.cron_problem($1) as problem`, [cron])).toEqual([{ problem }]);
  });
});

describe('schedule_flow and unschedule_flow', () => {
  it('stores a schedule and replaces it by name; bad expressions, zones, inputs and names are clear errors', async () => {
    const flow = await defineFlow(db, uniqueSlug('scheduled'), { steps: ['only'] });
    const [created] = await schedule(flow, 'nightly', '0 2 * * *', { full: true }, 'Europe/Paris');
    expect(created).toMatchObject({ flow_slug: flow, schedule_name: 'nightly', cron: '0 2 * * *', input: { full: true }, timezone: 'Europe/Paris' });
    const [replaced] = await schedule(flow, 'nightly', ' 0 3 * * * ', { full: false });
    expect(replaced).toMatchObject({ cron: '0 3 * * *', input: { full: false }, timezone: 'UTC' });
    expect(await db.query(`select count(*)::int as n from pgflow.schedules where flow_slug = $1`, [flow])).toEqual([{ n: 1 }]);

    expect((await errorOf(() => schedule(flow, 'bad', '61 * * * *'))).message).toBe(`invalid schedule "bad": the minute field '61' of '61 * * * *' is out of range (0-59)`);
    expect((await errorOf(() => schedule(flow, 'bad', '* * * * *', {}, 'Mars/Olympus'))).message).toBe(`invalid schedule "bad": unknown time zone 'Mars/Olympus'`);
    expect((await errorOf(() => schedule(flow, 'bad', '* * * * *', [1]))).message).toBe(`invalid schedule "bad": the input of a run of flow "${flow}" must be a JSON object, got array`);
    expect((await errorOf(() => schedule(flow, 'no spaces', '* * * * *'))).message).toBe(
      `invalid schedule name 'no spaces': it takes 1 to 128 letters, digits and underscores, starting with a letter or underscore`,
    );
    expect(await errorOf(() => schedule('no_such_flow', 'x', '* * * * *'))).toMatchObject({ code: '42704', message: 'flow "no_such_flow" does not exist' });
    expect(await db.query(`select schedule_name from pgflow.schedules where flow_slug = $1`, [flow])).toEqual([{ schedule_name: 'nightly' }]);

    expect(await db.query(`select pgflow.unschedule_flow($1, 'nightly') as removed`, [flow])).toEqual([{ removed: true }]);
    expect(await db.query(`select pgflow.unschedule_flow($1, 'nightly') as removed`, [flow])).toEqual([{ removed: false }]);
  });

  it('a root-map flow is scheduled with an array input', async () => {
    const flow = await defineFlow(db, uniqueSlug('scheduled_map'), { steps: [{ slug: 'each', stepType: 'map' }] });
    await expect(schedule(flow, 'hourly', '0 * * * *', [1, 2])).resolves.toHaveLength(1);
    expect((await errorOf(() => schedule(flow, 'wrong', '0 * * * *', {}))).message).toBe(`invalid schedule "wrong": the input of a run of flow "${flow}" must be a JSON array, got object`);
  });
});

describe('fire_schedule', () => {
  it('starts the run of a tick once: a second call for the same tick starts nothing and returns NULL', async () => {
    const flow = await defineFlow(db, uniqueSlug('fired'), { steps: ['only'] });
    await schedule(flow, 'every_minute', '* * * * *', { source: 'schedule' });
    const tick = '2026-12-06T10:15:00Z';
    const [{ run_id: runId }] = (await db.query<{ run_id: string | null }>(`select pgflow.fire_schedule($1, 'every_minute', $2) as run_id`, [flow, tick])) as [{ run_id: string }];
    expect(runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await db.query(`select pgflow.fire_schedule($1, 'every_minute', $2) as run_id`, [flow, tick])).toEqual([{ run_id: null }]);
    expect(await db.query(`select input, idempotency_key from pgflow.runs where run_id = $1`, [runId])).toEqual([
      { input: { source: 'schedule' }, idempotency_key: 'schedule:every_minute:2026-12-06T10:15:00Z' },
    ]);
    expect(await db.query(`select run_id from pgflow.schedule_ticks where flow_slug = $1`, [flow])).toEqual([{ run_id: runId }]);
    const [{ run_id: next }] = (await db.query<{ run_id: string }>(`select pgflow.fire_schedule($1, 'every_minute', $2) as run_id`, [flow, '2026-12-06T10:16:00Z'])) as [{ run_id: string }];
    expect(next).not.toBe(runId);
    expect(await errorOf(() => db.query(`select pgflow.fire_schedule($1, 'nope', now())`, [flow]))).toMatchObject({
      code: '42704',
      message: `schedule "nope" of flow "${flow}" does not exist`,
    });
  });

  it('eight connections firing the same tick at once start exactly one run', async () => {
    const flow = await defineFlow(db, uniqueSlug('fired_race'), { steps: ['only'] });
    await schedule(flow, 'tick', '* * * * *');
    const clients = await Promise.all(Array.from({ length: 8 }, () => db.connect()));
    const results = await Promise.all(clients.map((client) => client.query(`select pgflow.fire_schedule($1, 'tick', '2026-12-06T11:00:00Z') as run_id`, [flow])));
    const started = results.map((result) => result.rows[0].run_id as string | null).filter((runId) => runId !== null);
    expect(started).toHaveLength(1);
    expect(await db.query(`select count(*)::int as n from pgflow.runs where flow_slug = $1`, [flow])).toEqual([{ n: 1 }]);
  });
});
