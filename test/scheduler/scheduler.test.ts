/**
 * The scheduler against a real database, on a fake clock (`now`), so a
 * minute passes when the test says: two schedulers fire each tick exactly
 * once between them (passes driven by hand, and by their own loops); catch-up
 * after downtime, remembered in pgflow.schedule_ticks; schedules added,
 * changed and removed while running; an unreadable expression or time zone
 * in the table is reported once and does not stop the others; a worker with
 * `schedules: true` fires its own flows' schedules only.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { Flow } from '../../src/flow/index.js';
import { startScheduler, type SchedulerHandle, type SchedulerOptions } from '../../src/scheduler/index.js';
import { startWorker, type WorkerHandle } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { memoryLogger, sleep, waitUntil } from '../worker/support.js';

const db = useTestDatabase();
const running: SchedulerHandle[] = [];
const workers: WorkerHandle[] = [];
let flowCount = 0;

afterEach(async () => {
  await Promise.all([...running.splice(0).map((scheduler) => scheduler.stop()), ...workers.splice(0).map((worker) => worker.stop({ gracePeriod: 0 }))]);
});

/**
 * A clock the test moves. `at(m)` is m minutes after a whole minute shortly after the database's
 * now; the clock starts an hour before that, when nothing made by the test is due, so a
 * scheduler's first pass (at its start) fires nothing.
 */
async function fakeClock() {
  const [row] = await db.query<{ base: Date }>(`select date_trunc('minute', clock_timestamp()) + interval '2 minutes' as base`);
  const base = new Date(row!.base).getTime();
  let now = new Date(base - 3_600_000);
  return {
    now: () => now,
    set: (date: Date) => (now = date),
    advance: (minutes: number) => (now = new Date(now.getTime() + minutes * 60_000)),
    at: (minutes: number) => new Date(base + minutes * 60_000),
  };
}

async function scheduler(options: Partial<SchedulerOptions> = {}): Promise<SchedulerHandle> {
  const handle = await startScheduler({ connectionString: db.url, logger: memoryLogger(), refreshInterval: 60_000, ...options });
  running.push(handle);
  return handle;
}

async function newFlow(): Promise<string> {
  flowCount++;
  const slug = `sched_${flowCount}`;
  await db.query(`select pgflow.create_flow($1)`, [slug]);
  await db.query(`select pgflow.add_step($1, 'only')`, [slug]);
  return slug;
}

const ticksOf = async (flow: string, name: string) =>
  (await db.query<{ tick: Date }>(`select tick from pgflow.schedule_ticks where flow_slug = $1 and schedule_name = $2 order by tick`, [flow, name])).map((row) =>
    new Date(row.tick).toISOString(),
  );
const runsOf = async (flow: string) =>
  (await db.query<{ idempotency_key: string; input: unknown }>(`select idempotency_key, input from pgflow.runs where flow_slug = $1 order by idempotency_key`, [flow]));

beforeAll(async () => {
  // Nothing else in this database has schedules; each test makes its own flows.
  expect(await db.query(`select 1 from pgflow.schedules`)).toEqual([]);
});

describe('two schedulers on one database', () => {
  it('fire each tick exactly once between them (passes at the same moments)', async () => {
    const flow = await newFlow();
    await pgflowSql(db.pool).scheduleFlow(flow, 'every_minute', '* * * * *', { kind: 'minutely' });
    const clock = await fakeClock();
    const a = await scheduler({ now: clock.now, flows: [flow] });
    const b = await scheduler({ now: clock.now, flows: [flow] });
    const expected: string[] = [];
    for (let minute = 0; minute < 5; minute++) {
      clock.set(clock.at(minute));
      expected.push(clock.now().toISOString());
      const [firedA, firedB] = await Promise.all([a.fireDue(), b.fireDue()]);
      // Exactly one of the two fired this minute's tick.
      expect([...firedA, ...firedB].map((fired) => fired.tick.toISOString())).toEqual([clock.now().toISOString()]);
    }
    expect(await ticksOf(flow, 'every_minute')).toEqual(expected);
    const runs = await runsOf(flow);
    expect(runs.map((run) => run.idempotency_key)).toEqual(expected.map((tick) => `schedule:every_minute:${tick.replace('.000Z', 'Z')}`));
    expect(runs.every((run) => JSON.stringify(run.input) === '{"kind":"minutely"}')).toBe(true);
    expect(a.stats().fired + b.stats().fired).toBe(5);
    // The other scheduler either lost the race for the tick (fired elsewhere) or already saw it recorded and did not try.
    expect(a.stats().firedElsewhere + b.stats().firedElsewhere).toBeLessThanOrEqual(5);
  });

  it('fire each tick exactly once with their own loops running', async () => {
    const flow = await newFlow();
    await pgflowSql(db.pool).scheduleFlow(flow, 'quarter', '*/15 * * * *');
    const clock = await fakeClock();
    clock.set(clock.at(-2));
    const options = { now: clock.now, flows: [flow], refreshInterval: 20 };
    const [a, b, c] = await Promise.all([scheduler(options), scheduler(options), scheduler(options)]);
    // Two hours pass, a quarter of an hour at a time, while the three loops poll every 20 ms.
    const expected: string[] = [];
    for (let step = 1; step <= 8; step++) {
      clock.advance(15);
      const tick = new Date(Math.floor(clock.now().getTime() / 900_000) * 900_000).toISOString();
      expected.push(tick);
      await waitUntil(`the tick ${tick}`, async () => (await ticksOf(flow, 'quarter')).includes(tick));
    }
    await sleep(100);
    expect(await ticksOf(flow, 'quarter')).toEqual(expected);
    expect((await runsOf(flow)).length).toBe(8);
    expect(a.stats().fired + b.stats().fired + c.stats().fired).toBe(8);
  });
});

describe('catch-up after downtime', () => {
  it('fires only the latest missed tick by default, and remembers it in the database', async () => {
    const flow = await newFlow();
    await pgflowSql(db.pool).scheduleFlow(flow, 'minutely', '* * * * *');
    const clock = await fakeClock();
    const first = await scheduler({ now: clock.now, flows: [flow] });
    clock.set(clock.at(0));
    await first.fireDue();
    expect(await ticksOf(flow, 'minutely')).toEqual([clock.now().toISOString()]);
    await first.stop();

    // Ten minutes without a scheduler; a new one (nothing in its memory) fires the latest missed tick once.
    clock.advance(10);
    const logger = memoryLogger();
    // Its first pass, before startScheduler resolves, catches up.
    const second = await scheduler({ now: clock.now, flows: [flow], logger });
    expect(second.stats().fired).toBe(1);
    expect(await ticksOf(flow, 'minutely')).toEqual([clock.at(0).toISOString(), clock.at(10).toISOString()]);
    expect(await second.fireDue()).toEqual([]);
    expect(second.stats().skipped).toBeGreaterThan(0);
    expect(logger.messages('info').some((message) => message.includes('missed more than 1 tick(s)') && message.includes('skipping the older ones'))).toBe(true);
  });

  it('catchUp: n fires at most the n latest missed ticks, oldest first; fewer missed ticks all fire', async () => {
    const flow = await newFlow();
    await pgflowSql(db.pool).scheduleFlow(flow, 'five', '*/5 * * * *');
    const clock = await fakeClock();
    // A tick fired earlier by someone else (pg_cron, say) counts as the last one.
    const start = new Date(Math.floor(clock.at(0).getTime() / 300_000) * 300_000 + 300_000);
    await pgflowSql(db.pool).fireSchedule(flow, 'five', start);
    const catching = await scheduler({ now: clock.now, flows: [flow], catchUp: 3 });
    clock.set(new Date(start.getTime() + 60 * 60_000 + 30_000)); // an hour and a half-minute later: 12 ticks missed
    const fired = await catching.fireDue();
    const minutes = (n: number) => new Date(start.getTime() + n * 60_000).toISOString();
    expect(fired.map((tick) => tick.tick.toISOString())).toEqual([minutes(50), minutes(55), minutes(60)]);

    clock.advance(10); // two more ticks: both fire
    expect((await catching.fireDue()).map((tick) => tick.tick.toISOString())).toEqual([minutes(65), minutes(70)]);
    expect(await ticksOf(flow, 'five')).toEqual([minutes(0), minutes(50), minutes(55), minutes(60), minutes(65), minutes(70)]);
  });

  it('never fires a tick from before the schedule was created or changed', async () => {
    const flow = await newFlow();
    const clock = await fakeClock();
    await pgflowSql(db.pool).scheduleFlow(flow, 'yearly', '0 0 1 1 *');
    const yearly = await scheduler({ now: clock.now, flows: [flow], catchUp: 5 });
    clock.set(clock.at(0));
    expect(await yearly.fireDue()).toEqual([]);
    expect(await ticksOf(flow, 'yearly')).toEqual([]);
  });
});

describe('schedules change while the scheduler runs', () => {
  it('picks up a schedule added, changed and removed, without a restart', async () => {
    const flow = await newFlow();
    const clock = await fakeClock();
    const logger = memoryLogger();
    const live = await scheduler({ now: clock.now, flows: [flow], refreshInterval: 20, logger });
    await sleep(60);
    expect(live.stats().schedules).toBe(0);

    await pgflowSql(db.pool).scheduleFlow(flow, 'added', '* * * * *');
    clock.set(clock.at(0));
    const firstTick = clock.at(0).toISOString();
    await waitUntil('the added schedule to fire', async () => (await ticksOf(flow, 'added')).includes(firstTick));

    // Changed to once a year: the next minutes do not fire; New Year does, with the new input.
    await pgflowSql(db.pool).scheduleFlow(flow, 'added', '0 0 1 1 *', { changed: true });
    clock.advance(5);
    await sleep(100);
    expect(await ticksOf(flow, 'added')).toEqual([firstTick]);
    const newYear = new Date(Date.UTC(clock.now().getUTCFullYear() + 1, 0, 1));
    clock.set(new Date(newYear.getTime() + 1000));
    await waitUntil('the changed schedule to fire', async () => (await ticksOf(flow, 'added')).includes(newYear.toISOString()));
    const runs = await runsOf(flow);
    expect(runs.find((run) => run.idempotency_key.endsWith(newYear.toISOString().replace('.000Z', 'Z')))?.input).toEqual({ changed: true });

    await pgflowSql(db.pool).unscheduleFlow(flow, 'added');
    await waitUntil('the scheduler to see the removal', () => live.stats().schedules === 0);
    clock.advance(120);
    await sleep(100);
    expect((await runsOf(flow)).length).toBe(2);
    expect(logger.messages('warn')).toEqual([]);
    expect(logger.messages('error')).toEqual([]);
  });
});

describe('a schedule the scheduler cannot read', () => {
  it('is reported once, clearly, and the others go on', async () => {
    const flow = await newFlow();
    await pgflowSql(db.pool).scheduleFlow(flow, 'good', '* * * * *');
    // Written past schedule_flow's checks, as a hand-made row could be.
    await db.query(`insert into pgflow.schedules (flow_slug, schedule_name, cron, input) values ($1, 'bad_cron', '61 * * * *', '{}')`, [flow]);
    await db.query(`insert into pgflow.schedules (flow_slug, schedule_name, cron, input, timezone) values ($1, 'bad_zone', '* * * * *', '{}', 'Mars/Olympus_Mons')`, [flow]);
    const clock = await fakeClock();
    const logger = memoryLogger();
    const reader = await scheduler({ now: clock.now, flows: [flow], logger });
    clock.set(clock.at(0));
    expect((await reader.fireDue()).map((fired) => fired.scheduleName)).toEqual(['good']);
    clock.advance(1);
    expect((await reader.fireDue()).map((fired) => fired.scheduleName)).toEqual(['good']);

    expect(logger.messages('error')).toEqual([
      `schedule "bad_cron" of flow "${flow}" cannot be read and is skipped until it is fixed: the minute field '61' of '61 * * * *' is not valid: Constraint error, got value 61 expected range 0-59`,
      `schedule "bad_zone" of flow "${flow}" cannot be read and is skipped until it is fixed: unknown time zone 'Mars/Olympus_Mons'`,
    ]);
    expect(reader.stats().problems.map((problem) => [problem.scheduleName, problem.problem])).toEqual([
      ['bad_cron', `the minute field '61' of '61 * * * *' is not valid: Constraint error, got value 61 expected range 0-59`],
      ['bad_zone', `unknown time zone 'Mars/Olympus_Mons'`],
    ]);
    expect(await ticksOf(flow, 'bad_cron')).toEqual([]);

    // Fixed in place: read again, and it fires.
    await pgflowSql(db.pool).scheduleFlow(flow, 'bad_cron', '* * * * *');
    clock.advance(1);
    expect((await reader.fireDue()).map((fired) => fired.scheduleName)).toEqual(['bad_cron', 'good']);
    expect(reader.stats().problems.map((problem) => problem.scheduleName)).toEqual(['bad_zone']);
    expect(logger.messages('info')).toContain(`schedule "bad_cron" of flow "${flow}" can be read again: * * * * * (UTC)`);
  });

  it('refuses bad options, and passes once stopped', async () => {
    await expect(startScheduler({ connectionString: db.url, catchUp: 0 })).rejects.toThrow('startScheduler: catchUp must be a whole number of at least 1 (got 0)');
    await expect(startScheduler({ connectionString: db.url, refreshInterval: 1.5 })).rejects.toThrow(/refreshInterval must be a whole number/);
    await expect(startScheduler({})).rejects.toThrow('startScheduler: pass connectionString or pool');
    const stopped = await startScheduler({ connectionString: db.url, logger: memoryLogger(), flows: ['none_such'] });
    await stopped.stop();
    await stopped.done;
    await expect(stopped.fireDue()).rejects.toThrow('the scheduler is stopped');
  });
});

describe('a worker with schedules: true', () => {
  it('fires the schedules of its own flows only, and runs them', async () => {
    const mine = new Flow<{ n: number }>({ slug: 'sched_worker_mine' }).step({ slug: 'only' }, ({ run }) => ({ doubled: run.n * 2 }));
    const other = await newFlow();
    const worker = await startWorker({ connectionString: db.url, flows: [mine], logger: memoryLogger(), pollInterval: 60_000, schedules: { refreshInterval: 20 } });
    workers.push(worker);
    const sql = pgflowSql(db.pool);
    await sql.scheduleFlow(mine.slug, 'often', '* * * * *', { n: 21 });
    await sql.scheduleFlow(other, 'often', '* * * * *');
    // As if both schedules had been made ten minutes ago: the latest missed tick is due now.
    await db.query(`update pgflow.schedules set updated_at = updated_at - interval '10 minutes'`);
    await waitUntil('the worker to fire and run its schedule', async () => {
      const [run] = await db.query<{ status: string; output: unknown }>(`select status, output from pgflow.runs where flow_slug = $1`, [mine.slug]);
      return run?.status === 'completed' ? run : undefined;
    });
    expect(await db.query(`select status, output from pgflow.runs where flow_slug = $1`, [mine.slug])).toEqual([{ status: 'completed', output: { only: { doubled: 42 } } }]);
    await sleep(100);
    expect(await ticksOf(other, 'often')).toEqual([]);
    await expect(startWorker({ connectionString: db.url, flows: [mine], schedules: { catchUp: -1 } })).rejects.toThrow('startWorker: schedules.catchUp must be a whole number of at least 1 (got -1)');
  });
});
