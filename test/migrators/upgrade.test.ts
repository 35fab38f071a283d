/**
 * Upgrades with work in flight. For every prefix of the history that is a
 * complete install (it ends with a migration that sets pgflow.version()),
 * install that prefix with the real migrations, start runs and leave tasks
 * queued, started (by a worker still holding them) and failed-for-retry,
 * apply the rest of the history, and finish every run through the worker
 * protocol. With a single release there is no such prefix in the real
 * history yet; the same scenario also runs over a made-up next release, so
 * the harness itself is exercised now.
 */
import { describe, expect, it } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { pgflowMigratorOptions } from '../../src/kysely/migrations.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { readMigrations, schemaVersionOf, versionSetBy, type Migration } from '../../src/migrations/index.js';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { installFacts, packageHistory, useFreshDatabases, type FreshDatabase } from './support/databases.js';
import {
  completeTask,
  defineDiamond,
  diamondOutput,
  failTask,
  registerWorker,
  runStates,
  startRun,
  startVisibleTasks,
  workUntilFinished,
  type StartedTask,
} from './support/flows.js';
import { syntheticHistory } from './support/synthetic.js';

const freshDatabase = useFreshDatabases();

/** Lengths of the prefixes that leave a complete, older install behind. */
function upgradePoints(history: readonly Migration[]): number[] {
  const points: number[] = [];
  for (let length = 1; length < history.length; length++) {
    if (versionSetBy(history[length - 1]!)) points.push(length);
  }
  return points;
}

type Installer = (database: FreshDatabase, migrations: readonly Migration[]) => Promise<void>;

const withDrizzleBookkeeping: Installer = async (database, migrations) => {
  const client = await database.connect();
  await applyBundledMigrations(toExecutor(client), { migrations });
};

const withKysely: Installer = async (database, migrations) => {
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: database.pool() }) });
  const outcome = await new Migrator(pgflowMigratorOptions(db, { migrations })).migrateToLatest();
  if (outcome.error) throw outcome.error;
};

interface TaskRow {
  run_id: string;
  step_slug: string;
  status: string;
  attempts_count: number;
}

async function taskStates(database: FreshDatabase, runIds: readonly string[]): Promise<TaskRow[]> {
  return database.query<TaskRow>(
    `select run_id, step_slug, status, attempts_count from pgflow.step_tasks where run_id = any($1::uuid[]) order by run_id, step_slug`,
    [runIds],
  );
}

async function upgradeWithWorkInFlight(history: readonly Migration[], length: number, install: Installer): Promise<void> {
  const database = await freshDatabase();
  const pool = database.pool();
  await install(database, history.slice(0, length));
  expect((await installFacts(database)).version).toBe(schemaVersionOf(history.slice(0, length)));

  const flow = 'upgrade_flow';
  await defineDiamond(pool, flow);
  const worker = await registerWorker(pool, flow);
  const inFlight = await startRun(pool, flow, { case: 'started' });
  const retrying = await startRun(pool, flow, { case: 'failed-for-retry' });
  const halfway = await startRun(pool, flow, { case: 'halfway' });
  const started = await startVisibleTasks(pool, flow, worker, 3);
  expect(started.map((task) => task.run_id).sort()).toEqual([inFlight, retrying, halfway].sort());
  const byRun = new Map(started.map((task) => [task.run_id, task]));
  await failTask(pool, byRun.get(retrying)!, 'flaky before the upgrade');
  await completeTask(pool, byRun.get(halfway)!);
  const [halfwayLeft] = (await startVisibleTasks(pool, flow, worker, 1)) as [StartedTask];
  expect(halfwayLeft).toMatchObject({ run_id: halfway, step_slug: 'left' });
  const queued = await startRun(pool, flow, { case: 'queued' });
  const runIds = [inFlight, retrying, halfway, queued];
  const before = await taskStates(database, runIds);
  expect(before.map((task) => [task.run_id, task.step_slug, task.status, task.attempts_count])).toEqual(
    expect.arrayContaining([
      [inFlight, 'fetch', 'started', 1],
      [retrying, 'fetch', 'queued', 1],
      [halfway, 'fetch', 'completed', 1],
      [halfway, 'left', 'started', 1],
      [halfway, 'right', 'queued', 0],
      [queued, 'fetch', 'queued', 0],
    ]),
  );

  await install(database, history);
  expect((await installFacts(database)).version).toBe(schemaVersionOf(history));
  expect(await taskStates(database, runIds)).toEqual(before);

  // The workers that held tasks across the upgrade finish them; new work goes through the queue.
  await completeTask(pool, byRun.get(inFlight)!);
  await completeTask(pool, halfwayLeft);
  await workUntilFinished(pool, flow, runIds);
  const finished = await runStates(database.pool(), runIds);
  expect(finished.map((run) => run.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
  for (const run of finished) expect(run.output).toEqual(diamondOutput);
  const [retried] = await database.query<{ attempts_count: number; status: string }>(
    `select attempts_count, status from pgflow.step_tasks where run_id = $1 and step_slug = 'fetch'`,
    [retrying],
  );
  expect(retried).toEqual({ attempts_count: 2, status: 'completed' });
}

describe('upgrading with runs in flight', () => {
  const history = readMigrations();
  const points = upgradePoints(history);

  if (points.length === 0) {
    it.skip(`from an earlier release: the history (${history.map((migration) => migration.tag).join(', ')}) has a single release so far`, () => {});
  }
  for (const length of points) {
    it(`from ${schemaVersionOf(history.slice(0, length))} (first ${length} migrations) to ${schemaVersionOf(history)}`, async () => {
      await upgradeWithWorkInFlight(history, length, withDrizzleBookkeeping);
    });
  }

  describe('over a made-up next release (checks the harness)', () => {
    const synthetic = syntheticHistory(['90.0.0']).migrations;
    const [point] = upgradePoints(synthetic).slice(-1);

    it('through the package history table (drizzle-kit, migratePgflow, psql)', async () => {
      await upgradeWithWorkInFlight(synthetic, point!, withDrizzleBookkeeping);
    });

    it("through Kysely's Migrator", async () => {
      await upgradeWithWorkInFlight(synthetic, point!, withKysely);
    });
  });

  it('records the whole history once after an upgrade', async () => {
    const synthetic = syntheticHistory(['90.0.0', '90.1.0']).migrations;
    const database = await freshDatabase();
    for (const length of [...upgradePoints(synthetic), synthetic.length]) await withDrizzleBookkeeping(database, synthetic.slice(0, length));
    expect(await packageHistory(database)).toEqual(synthetic.map((migration) => ({ hash: migration.hash, created_at: String(migration.when) })));
  });
});
