/**
 * Reads a schedule's cron expression in its time zone and finds its ticks,
 * with the `cron-parser` library doing the reading and the date arithmetic.
 *
 * The language is the engine's (`pgflow.cron_problem`): exactly five fields —
 * minute, hour, day of month, month, day of week — each a comma-separated
 * list of `*`, a value or a range `a-b`, any of them with a step `/n`; month
 * names JAN-DEC and day names SUN-SAT in any case; 0 and 7 are Sunday.
 * cron-parser reads more than that (seconds, `L`, `W`, `#`, `H`, `?`,
 * `@daily`) and less in two places (it refuses a list that repeats a value,
 * as `*,5` does, and a name written next to something else); so this module
 * first holds an expression to the engine's language — the field count, the
 * characters, names replaced as the engine replaces them, at most four digits
 * a number —
 * and then hands cron-parser one list item at a time, taking the union of
 * their values. When both day fields are restricted (neither is `*`), a day
 * matches when either matches, as in cron.
 */
import {
  CronDayOfMonth,
  CronDayOfWeek,
  CronExpression,
  CronExpressionParser,
  CronFieldCollection,
  CronHour,
  CronMinute,
  CronMonth,
  CronSecond,
} from 'cron-parser';

const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'] as const;
const FIELD_RANGES = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
] as const;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/**
 * A cron expression or time zone the scheduler cannot read.
 */
export class CronError extends Error {
  override name = 'CronError';
}

const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** Names become numbers wherever they stand, as pgflow.cron_problem replaces them. */
function replaceNames(field: string, index: number): string {
  let text = field.toUpperCase();
  if (index === 3) MONTHS.forEach((name, i) => (text = text.replaceAll(name, String(i + 1))));
  if (index === 4) DAYS.forEach((name, i) => (text = text.replaceAll(name, String(i))));
  return text;
}

interface ReadFields {
  /** Per field: the values it stands for (Sunday as 0). */
  values: number[][];
  /** Per field as written (for the `*` test of the day fields). */
  raw: string[];
}

const POSITIONS = ['minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'] as const;

/** The values one list item stands for, as cron-parser reads it (it checks ranges and steps). */
function expand(item: string, index: number): number[] {
  const fields = ['*', '*', '*', '*', '*'];
  fields[index] = item;
  const parsed = CronExpressionParser.parse(`0 ${fields.join(' ')}`, { tz: 'UTC' });
  return (parsed.fields[POSITIONS[index]!].values as readonly (number | string)[]).filter((value): value is number => typeof value === 'number');
}

/** The fields' values, or what is wrong with the expression. */
function readFields(expression: string): ReadFields | string {
  // As the engine: only spaces are trimmed, and fields are separated by any whitespace (so a leading tab makes an empty field).
  const trimmed = expression.replace(/^ +| +$/g, '');
  if (trimmed === '') return 'the cron expression is empty';
  const fields = trimmed.split(/[ \t\n\r\f\v]+/);
  if (fields.length !== 5) return `a cron expression has 5 fields (minute hour day-of-month month day-of-week), ${quote(expression)} has ${fields.length}`;
  const values: number[][] = [];
  for (const [index, field] of fields.entries()) {
    const what = `the ${FIELD_NAMES[index]} field ${quote(field)} of ${quote(expression)}`;
    const union = new Set<number>();
    for (const item of replaceNames(field, index).split(',')) {
      // The engine's shapes only (cron-parser would also read L, W, #, H and ?), and at most 4 digits a number, as the engine has it.
      const shape = /^(\*|\d+(-\d+)?)(\/\d+)?$/.exec(item);
      if (!shape) return `${what} is not a value, a range a-b or *, with an optional /step`;
      if (/\d{5}/.test(item)) return `${what} is out of range (${FIELD_RANGES[index]![0]}-${FIELD_RANGES[index]![1]})`;
      let expanded: number[];
      try {
        expanded = expand(item, index);
      } catch (error) {
        return `${what} is not valid: ${error instanceof Error ? error.message : String(error)}`;
      }
      for (const value of expanded) union.add(index === 4 && value === 7 ? 0 : value);
    }
    values.push([...union].sort((a, b) => a - b));
  }
  return { values, raw: fields };
}

/**
 * What is wrong with a cron expression, or null when the engine and the
 * scheduler accept it (the same answer as `pgflow.cron_problem`).
 */
export function cronProblem(expression: string): string | null {
  const read = readFields(expression);
  return typeof read === 'string' ? read : null;
}

/**
 * Whether `timezone` is an IANA time zone this Node.js knows.
 */
export function isKnownTimeZone(timezone: string): boolean {
  if (timezone.trim() === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * A schedule's expression, read: finds its ticks in its time zone.
 */
export class CronSchedule {
  private constructor(
    readonly expression: string,
    readonly timezone: string,
    /** null for an expression no date matches (`0 0 31 2 *`): the engine accepts it, and it never fires. */
    private readonly fields: CronFieldCollection | null,
  ) {}

  /** True when no date matches the expression (the 31st of February, say). */
  get neverFires(): boolean {
    return this.fields === null;
  }

  /** Reads `expression` in `timezone`; throws a CronError naming the problem. */
  static parse(expression: string, timezone = 'UTC'): CronSchedule {
    const read = readFields(expression);
    if (typeof read === 'string') throw new CronError(read);
    if (!isKnownTimeZone(timezone)) throw new CronError(`unknown time zone ${quote(timezone)}`);
    const { values, raw } = read;
    // A day field written as `*` leaves the day to the other field; any other restricts it (cron's rule).
    let fields: CronFieldCollection | null;
    try {
      fields = new CronFieldCollection({
        second: new CronSecond([0]),
        minute: new CronMinute(values[0] as never, { rawValue: raw[0]! }),
        hour: new CronHour(values[1] as never, { rawValue: raw[1]! }),
        dayOfMonth: new CronDayOfMonth(values[2] as never, { rawValue: raw[2]!, wildcard: raw[2] === '*' }),
        month: new CronMonth(values[3] as never, { rawValue: raw[3]! }),
        dayOfWeek: new CronDayOfWeek(values[4] as never, { rawValue: raw[4]!, wildcard: raw[4] === '*' }),
      });
    } catch {
      // cron-parser refuses a day of month that no month selected has (and no day of week rescues).
      fields = null;
    }
    return new CronSchedule(expression, timezone, fields);
  }

  private iterator(from: Date): CronExpression | null {
    return this.fields && new CronExpression(this.fields, { currentDate: from, tz: this.timezone });
  }

  /** The first tick after `after`, or null when there is none (an expression such as `0 0 31 2 *` never fires). */
  next(after: Date): Date | null {
    try {
      return this.iterator(after)?.next().toDate() ?? null;
    } catch {
      return null;
    }
  }

  /**
   * The latest ticks in (`after`, `until`], at most `limit` of them, oldest
   * first; `more` is true when older ones in that span were left out.
   */
  latestTicks(after: Date | null, until: Date, limit: number): { ticks: Date[]; more: boolean } {
    const ticks: Date[] = [];
    let more = false;
    // prev() returns ticks strictly before its start: start just after `until` so a tick at `until` counts.
    const iterator = this.iterator(new Date(until.getTime() + 1));
    while (iterator && ticks.length <= limit) {
      let tick: Date;
      try {
        tick = iterator.prev().toDate();
      } catch {
        break;
      }
      if (after !== null && tick.getTime() <= after.getTime()) break;
      if (ticks.length === limit) {
        more = true;
        break;
      }
      ticks.push(tick);
    }
    return { ticks: ticks.reverse(), more };
  }
}
