/**
 * The scheduler reads exactly the cron language the engine accepts: a table
 * of expressions, each judged by pgflow.cron_problem in the database and by
 * the scheduler's reader, must get the same verdict both ways. Then what the
 * accepted ones mean: ticks in a time zone, lists, steps, names, the day
 * fields' OR rule, and the bounded search for missed ticks.
 */
import { describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { CronError, CronSchedule, cronProblem } from '../../src/scheduler/cron.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

const ACCEPTED = [
  '* * * * *',
  '0 2 * * *',
  '*/5 * * * *',
  '5/10 * * * *',
  '0-59/15 * * * *',
  '1-5/2 * * * *',
  '*/100 * * * *',
  '0,15,30,45 * * * *',
  '*,5 * * * *',
  '1,1 * * * *',
  '1-5,3 * * * *',
  '007 * * * *',
  '0 0 1 1 *',
  '0 0 31 12 *',
  '0 0 31 2 *',
  '0 0 * * 0',
  '0 0 * * 7',
  '0 0 * * 0-7',
  '0 0 * * 5-7',
  '0 9 * * MON-FRI',
  '0 9 * * mon,wed,fri',
  '0 9 * JAN-MAR *',
  '0 9 * jan,Jul *',
  '0 9 1 1-12/13 *',
  '0 0 * JANFEB *',
  '0 0 * * SUN6',
  '  0 2 * * *  ',
  '0\t2 * * *',
  '0  2   *  * *',
  '59 23 31 12 6',
];

const REJECTED = [
  '',
  '   ',
  '* * * *',
  '* * * * * *',
  '0 0 0 * * *',
  '\t0 2 * * *',
  '60 * * * *',
  '* 24 * * *',
  '* * 0 * *',
  '* * 32 * *',
  '* * * 0 *',
  '* * * 13 *',
  '* * * * 8',
  '5-3 * * * *',
  '*/0 * * * *',
  '5/0 * * * *',
  '00005 * * * *',
  ',5 * * * *',
  '5, * * * *',
  '-5 * * * *',
  '5- * * * *',
  '**/2 * * * *',
  '*/2/3 * * * *',
  '1-2-3 * * * *',
  '*-5 * * * *',
  '? * * * *',
  '0 0 L * *',
  '0 0 15W * *',
  '0 0 * * 5L',
  '0 0 * * 1#2',
  'H * * * *',
  '@daily',
  '@hourly * * * *',
  '0 9 * MON *',
  '0 9 * * JAN',
  '0 9 * JANUARY *',
  '0 9 * * MONDAY',
  'a b c d e',
  '1.5 * * * *',
  '+1 * * * *',
];

describe('the cron language', () => {
  it.each(ACCEPTED)('accepts %j, as the engine does', async (expression) => {
    expect(await pgflowSql(db.pool).cronProblem(expression)).toBeNull();
    expect(cronProblem(expression)).toBeNull();
    expect(() => CronSchedule.parse(expression)).not.toThrow();
  });

  it.each(REJECTED)('rejects %j, as the engine does', async (expression) => {
    expect(await pgflowSql(db.pool).cronProblem(expression)).not.toBeNull();
    const problem = cronProblem(expression);
    expect(problem).not.toBeNull();
    expect(() => CronSchedule.parse(expression)).toThrow(CronError);
    expect(() => CronSchedule.parse(expression)).toThrow(problem!);
  });

  it('names the field and the expression in its problem', () => {
    expect(cronProblem('61 * * * *')).toMatch(/^the minute field '61' of '61 \* \* \* \*' is not valid: /);
    expect(cronProblem('0 0 * * 5L')).toBe(`the day of week field '5L' of '0 0 * * 5L' is not a value, a range a-b or *, with an optional /step`);
    expect(cronProblem('* * * *')).toBe(`a cron expression has 5 fields (minute hour day-of-month month day-of-week), '* * * *' has 4`);
  });

  it('refuses a time zone Node does not know', () => {
    expect(() => CronSchedule.parse('* * * * *', 'Mars/Olympus_Mons')).toThrow(new CronError(`unknown time zone 'Mars/Olympus_Mons'`));
  });
});

const at = (iso: string) => new Date(iso);
const iso = (dates: readonly Date[]) => dates.map((date) => date.toISOString());

describe('what an expression means', () => {
  it('reads the hours in the schedule’s time zone, across a change of summer time', () => {
    const nightly = CronSchedule.parse('0 2 * * *', 'Europe/Paris');
    // 02:00 in Paris is 01:00 UTC in winter and 00:00 UTC in summer; 2026-03-29 has no 02:00 at all.
    expect(nightly.next(at('2026-01-10T12:00:00Z'))?.toISOString()).toBe('2026-01-11T01:00:00.000Z');
    expect(nightly.next(at('2026-06-10T12:00:00Z'))?.toISOString()).toBe('2026-06-11T00:00:00.000Z');
  });

  it('lists, steps, ranges and names', () => {
    const from = at('2026-01-05T10:00:30Z'); // a Monday
    const ticks = (expression: string, count: number) => {
      const schedule = CronSchedule.parse(expression);
      const out: Date[] = [];
      let after = from;
      for (let i = 0; i < count; i++) {
        const next = schedule.next(after)!;
        out.push(next);
        after = next;
      }
      return iso(out);
    };
    expect(ticks('5/20 * * * *', 3)).toEqual(['2026-01-05T10:05:00.000Z', '2026-01-05T10:25:00.000Z', '2026-01-05T10:45:00.000Z']);
    expect(ticks('*,7 10 * * *', 2)).toEqual(['2026-01-05T10:01:00.000Z', '2026-01-05T10:02:00.000Z']);
    expect(ticks('0 9 * * SAT,7', 2)).toEqual(['2026-01-10T09:00:00.000Z', '2026-01-11T09:00:00.000Z']);
    expect(ticks('0 0 1 feb-mar *', 2)).toEqual(['2026-02-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z']);
  });

  it('a day matches when either day field matches, when both are restricted; a `*` day field leaves it to the other', () => {
    // The 13th of the month, or a Friday.
    const either = CronSchedule.parse('0 0 13 * 5');
    expect(either.next(at('2026-01-01T00:00:00Z'))?.toISOString()).toBe('2026-01-02T00:00:00.000Z'); // Friday 2 Jan
    expect(either.next(at('2026-01-10T00:00:00Z'))?.toISOString()).toBe('2026-01-13T00:00:00.000Z'); // Tuesday 13 Jan
    expect(CronSchedule.parse('0 0 * * 5').next(at('2026-01-10T00:00:00Z'))?.toISOString()).toBe('2026-01-16T00:00:00.000Z');
    expect(CronSchedule.parse('0 0 13 * *').next(at('2026-01-14T00:00:00Z'))?.toISOString()).toBe('2026-02-13T00:00:00.000Z');
  });

  it('an expression that never fires has no next tick and no missed ones', () => {
    const never = CronSchedule.parse('0 0 31 2 *');
    expect(never.next(at('2026-01-01T00:00:00Z'))).toBeNull();
    expect(never.latestTicks(null, at('2026-06-01T00:00:00Z'), 3)).toEqual({ ticks: [], more: false });
  });

  it('finds the latest ticks in (after, until], oldest first, at most `limit`, and says when older ones were left out', () => {
    const quarter = CronSchedule.parse('*/15 * * * *');
    const until = at('2026-01-05T11:00:00Z');
    expect(iso(quarter.latestTicks(at('2026-01-05T10:00:00Z'), until, 10).ticks)).toEqual([
      '2026-01-05T10:15:00.000Z',
      '2026-01-05T10:30:00.000Z',
      '2026-01-05T10:45:00.000Z',
      '2026-01-05T11:00:00.000Z',
    ]);
    expect(quarter.latestTicks(at('2026-01-05T10:00:00Z'), until, 10).more).toBe(false);
    const two = quarter.latestTicks(at('2026-01-05T10:00:00Z'), until, 2);
    expect(iso(two.ticks)).toEqual(['2026-01-05T10:45:00.000Z', '2026-01-05T11:00:00.000Z']);
    expect(two.more).toBe(true);
    // A year of downtime costs no more than the ticks asked for.
    const minutely = CronSchedule.parse('* * * * *');
    const year = minutely.latestTicks(at('2025-01-05T11:00:00Z'), at('2026-01-05T11:00:30Z'), 1);
    expect(iso(year.ticks)).toEqual(['2026-01-05T11:00:00.000Z']);
    expect(year.more).toBe(true);
    expect(minutely.latestTicks(at('2026-01-05T11:00:00Z'), at('2026-01-05T11:00:30Z'), 1)).toEqual({ ticks: [], more: false });
  });
});
