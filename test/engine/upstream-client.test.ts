/**
 * pgflow's own TypeScript packages drive this engine unchanged: flows built
 * with @pgflow/dsl@0.8.1 (`.step()`, `.array()`, `.map()`), compiled with its
 * compileFlow, applied as SQL, and run by a worker loop made only of
 * @pgflow/core@0.8.1's PgflowSqlClient (read_with_poll → start_tasks →
 * complete_task / fail_task), with the DSL's own handlers.
 */
import { PgflowSqlClient } from '@pgflow/core';
import { compileFlow, Flow, type AnyFlow } from '@pgflow/dsl';
import { afterAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { POSTGRES_JS, type PostgresJsSql } from '../support/postgres-js.js';
import { getRun, newWorkerId, uniqueSlug } from './support.js';

const db = useTestDatabase();
// PgflowSqlClient is written for postgres.js 3 (its own dependency).
const postgres3 = POSTGRES_JS.find((driver) => driver.major === 3)!;
const clients: PostgresJsSql[] = [];
afterAll(async () => {
  await Promise.all(clients.map((sql) => sql.end({ timeout: 1 })));
});

/** Polls, starts, runs and completes tasks with the DSL's handlers until every given run has finished. */
async function workUntilFinished(client: PgflowSqlClient<AnyFlow>, flow: AnyFlow, runIds: string[]): Promise<{ stepSlug: string; taskIndex: number; input: unknown }[]> {
  const handled: { stepSlug: string; taskIndex: number; input: unknown }[] = [];
  const workerId = newWorkerId();
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const runs = await db.query<{ status: string }>(`select status from pgflow.runs where run_id = any($1::uuid[])`, [runIds]);
    if (runs.every((run) => run.status !== 'started')) return handled;
    const messages = await client.readMessages(flow.slug, 30, 50, 1, 50);
    if (messages.length === 0) continue;
    const tasks = await client.startTasks(flow.slug, messages.map((message) => message.msg_id), workerId);
    for (const task of tasks) {
      handled.push({ stepSlug: task.step_slug, taskIndex: task.task_index, input: task.input });
      try {
        const step = (flow as { getStepDefinition(slug: string): { handler: (input: unknown, context: unknown) => unknown } }).getStepDefinition(task.step_slug);
        const output = await step.handler(task.input, { env: {}, shutdownSignal: new AbortController().signal });
        await client.completeTask(task, output as never);
      } catch (error) {
        await client.failTask(task, error);
      }
    }
  }
  throw new Error('runs did not finish in time');
}

async function install(flow: AnyFlow): Promise<PgflowSqlClient<AnyFlow>> {
  const sql = postgres3.connect(db.url, { max: 2, onnotice: () => {} });
  clients.push(sql);
  for (const statement of compileFlow(flow)) await sql.unsafe(statement);
  return new PgflowSqlClient<AnyFlow>(sql as never);
}

describe('@pgflow/dsl@0.8.1 flows with .map() and .array(), run by @pgflow/core@0.8.1’s PgflowSqlClient', () => {
  it('a root map over the run input, then a map over the map, then a step over both', async () => {
    const flow = new Flow<string[]>({ slug: uniqueSlug('upstream_root_map'), maxAttempts: 2, baseDelay: 1 })
      .map({ slug: 'trim' }, (word) => word.trim())
      .map({ slug: 'shout', array: 'trim' }, (word) => `${word.toUpperCase()}!`)
      .step({ slug: 'join', dependsOn: ['shout'] }, (input) => input.shout.join(' '));
    expect(compileFlow(flow)).toEqual([
      `SELECT pgflow.create_flow('${flow.slug}', max_attempts => 2, base_delay => 1);`,
      `SELECT pgflow.add_step('${flow.slug}', 'trim', step_type => 'map');`,
      `SELECT pgflow.add_step('${flow.slug}', 'shout', ARRAY['trim'], step_type => 'map');`,
      `SELECT pgflow.add_step('${flow.slug}', 'join', ARRAY['shout']);`,
    ]);
    const client = await install(flow);
    const run = await client.startFlow(flow.slug, [' hello ', 'map ', ' world'] as never);
    const handled = await workUntilFinished(client, flow, [run.run_id]);
    expect(handled.filter((task) => task.stepSlug === 'shout').map((task) => [task.taskIndex, task.input]).sort()).toEqual([
      [0, 'hello'],
      [1, 'map'],
      [2, 'world'],
    ]);
    expect(await getRun(db, run.run_id)).toMatchObject({ status: 'completed', output: { join: 'HELLO! MAP! WORLD!' } });
  });

  it('.array() feeds a dependent map; an element that fails once is retried; an empty array completes at once', async () => {
    let failures = 0;
    const flow = new Flow<{ count: number }>({ slug: uniqueSlug('upstream_array'), baseDelay: 1 })
      .array({ slug: 'numbers' }, (input) => Array.from({ length: input.run.count }, (_, i) => i + 1))
      .map({ slug: 'square', array: 'numbers', maxAttempts: 3 }, (n) => {
        if (n === 2 && failures === 0) {
          failures += 1;
          throw new Error('transient');
        }
        return n * n;
      })
      .step({ slug: 'total', dependsOn: ['square', 'numbers'] }, (input) => ({
        count: input.numbers.length,
        sum: input.square.reduce((a, b) => a + b, 0),
      }));
    expect(compileFlow(flow)[2]).toBe(`SELECT pgflow.add_step('${flow.slug}', 'square', ARRAY['numbers'], max_attempts => 3, step_type => 'map');`);
    const client = await install(flow);
    const four = await client.startFlow(flow.slug, { count: 4 });
    const none = await client.startFlow(flow.slug, { count: 0 });
    const handled = await workUntilFinished(client, flow, [four.run_id, none.run_id]);
    expect(failures).toBe(1);
    expect(handled.filter((task) => task.stepSlug === 'square' && task.input === 2)).toHaveLength(2);
    expect(await getRun(db, four.run_id)).toMatchObject({ status: 'completed', output: { total: { count: 4, sum: 30 } } });
    expect(await getRun(db, none.run_id)).toMatchObject({ status: 'completed', output: { total: { count: 0, sum: 0 } } });
  });
});
