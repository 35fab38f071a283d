/**
 * `pgflow-orm schedules` (= `schedules list`): the schedules with their cron
 * expression, time zone, input, last fired tick and next tick (or why the
 * scheduler cannot read them); `schedules add <flow> <name> --cron ...`
 * creates or replaces one (pgflow.schedule_flow); `schedules remove <flow>
 * <name>` removes one (exit 2 when there is none). Ticks are fired by
 * `pgflow-orm scheduler`, workers started with `schedules: true`, or pg_cron.
 */
import type { Command } from 'commander';
import type pg from 'pg';
import { toExecutor } from '../../core/connection.js';
import { pgflowSql } from '../../core/sql-api.js';
import type { Json } from '../../core/types.js';
import { CronError, CronSchedule } from '../../scheduler/cron.js';
import { readSchedules, type ScheduleState } from '../../scheduler/schedules.js';
import { CliError, NOTHING_TO_DO, type CliCommand } from '../command.js';
import { withDatabase } from './support/database.js';
import { formatTime, printJson, shortJson, table } from './support/output.js';

export interface ScheduleListing {
  flowSlug: string;
  scheduleName: string;
  cron: string;
  timezone: string;
  input: Json;
  /** The latest tick that fired (pgflow.schedule_ticks). */
  lastTick: Date | null;
  /** The next tick after now, or null (never fires, or cannot be read). */
  nextTick: Date | null;
  /** Why the scheduler cannot read it, or null. */
  problem: string | null;
}

/** Each schedule with its next tick, as the scheduler would read it. */
export function describeSchedules(rows: readonly ScheduleState[], now: Date): ScheduleListing[] {
  return rows.map((row) => {
    let nextTick: Date | null = null;
    let problem: string | null = null;
    try {
      nextTick = CronSchedule.parse(row.cron, row.timezone).next(now);
    } catch (error) {
      if (!(error instanceof CronError)) throw error;
      problem = error.message;
    }
    return { flowSlug: row.flowSlug, scheduleName: row.scheduleName, cron: row.cron, timezone: row.timezone, input: row.input, lastTick: row.lastTick, nextTick, problem };
  });
}

export function formatSchedules(schedules: readonly ScheduleListing[], indent = ''): string[] {
  if (schedules.length === 0) return [`${indent}no schedules`];
  return table(
    ['flow', 'schedule', 'cron', 'time zone', 'last fired (UTC)', 'next (UTC)', 'input'],
    schedules.map((schedule) => [
      schedule.flowSlug,
      schedule.scheduleName,
      schedule.cron,
      schedule.timezone,
      formatTime(schedule.lastTick),
      schedule.problem ? `cannot be read: ${schedule.problem}` : schedule.nextTick ? formatTime(schedule.nextTick) : 'never',
      shortJson(schedule.input, 60),
    ]),
    indent,
  );
}

/** The engine's refusals (bad expression, time zone, input; unknown flow) as one-line errors. */
async function engineCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '22023' || code === '42704' || code === '22P02') throw new CliError((error as Error).message);
    throw error;
  }
}

function parseInput(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch (error) {
    throw new CliError(`--input is not JSON: ${(error as Error).message}`);
  }
}

const withClient = <T>(databaseUrl: string | undefined, use: (client: pg.Client) => Promise<T>) => withDatabase(databaseUrl, 'pgflow-orm schedules', use);

export const schedulesCommand: CliCommand = {
  register(program: Command) {
    const schedules = program
      .command('schedules')
      .description('list schedules (`schedules`), add or replace one (`schedules add`), remove one (`schedules remove`)')
      .addHelpText('after', '\nWithout a subcommand, `schedules` lists them: see `pgflow-orm schedules list --help`.');

    schedules
      .command('list', { isDefault: true })
      .description('list schedules with their last fired and next tick')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--flow <slug>', 'only the schedules of this flow')
      .option('--json', 'print JSON')
      .action(async (options: { databaseUrl?: string; flow?: string; json?: boolean }) => {
        const listing = await withClient(options.databaseUrl, async (client) => {
          const snapshot = await readSchedules(toExecutor(client), options.flow === undefined ? null : [options.flow]);
          return describeSchedules(snapshot.schedules, snapshot.now);
        });
        if (options.json) printJson(listing);
        else for (const line of formatSchedules(listing)) console.log(line);
      });

    schedules
      .command('add')
      .description("start a flow on a cron schedule, or replace the schedule's expression, input and time zone")
      .argument('<flow>', 'the flow slug')
      .argument('<name>', 'the schedule name (letters, digits, underscores)')
      .requiredOption('--cron <expression>', 'five fields: minute hour day-of-month month day-of-week, e.g. "0 2 * * *"')
      .option('--input <json>', 'the input of each run (a JSON object, or an array for a flow with a root map step)', '{}')
      .option('--timezone <zone>', 'the IANA time zone the expression is read in', 'UTC')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .option('--json', 'print the schedule as JSON')
      .addHelpText('after', `\nExample:\n  npx pgflow-orm schedules add reports nightly --cron '0 2 * * *' --input '{"kind":"daily"}' --timezone Europe/Paris`)
      .action(async (flow: string, name: string, options: { cron: string; input: string; timezone: string; databaseUrl?: string; json?: boolean }) => {
        const input = parseInput(options.input);
        const { schedule, replaced, next } = await withClient(options.databaseUrl, async (client) => {
          const { rows } = await client.query('select 1 from pgflow.schedules where flow_slug = $1 and schedule_name = $2', [flow, name]);
          const saved = await engineCall(() => pgflowSql(client).scheduleFlow(flow, name, options.cron, input, options.timezone));
          const { rows: clock } = await client.query<{ now: Date }>('select clock_timestamp() as now');
          let nextTick: Date | null = null;
          try {
            nextTick = CronSchedule.parse(saved.cron, saved.timezone).next(new Date(clock[0]!.now));
          } catch {
            nextTick = null;
          }
          return { schedule: saved, replaced: rows.length > 0, next: nextTick };
        });
        if (options.json) {
          printJson(schedule);
          return;
        }
        console.log(`${replaced ? 'replaced' : 'added'} schedule ${name} of flow ${flow}: ${schedule.cron} (${schedule.timezone}), input ${shortJson(schedule.input, 120)}`);
        console.log(next ? `next tick ${formatTime(next)} UTC` : 'it never fires: no date matches the expression');
      });

    schedules
      .command('remove')
      .description('remove a schedule (the runs it started stay)')
      .argument('<flow>', 'the flow slug')
      .argument('<name>', 'the schedule name')
      .option('--database-url <url>', 'the database (default: DATABASE_URL)')
      .action(async (flow: string, name: string, options: { databaseUrl?: string }) => {
        const removed = await withClient(options.databaseUrl, (client) => pgflowSql(client).unscheduleFlow(flow, name));
        if (!removed) throw new CliError(`flow ${flow} has no schedule named ${name}; nothing to remove`, { exitCode: NOTHING_TO_DO });
        console.log(`removed schedule ${name} of flow ${flow}`);
      });
  },
};
