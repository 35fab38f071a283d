/**
 * Installs pgflow, defines a two-step flow with the SQL API, runs it to
 * completion as a worker would, and reads the run back with Drizzle.
 */
import { randomUUID } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { pgflowSql } from 'pgflow-orm';
import { runs, stepStates } from 'pgflow-orm/drizzle';
import { db, pool } from './db.js';
import { migrate } from './migrate.js';

type Handler = (input: Record<string, unknown>) => unknown;

const handlers: Record<string, Handler> = {
  fetch_user: (input) => ({ id: (input.run as { userId: number }).userId, name: 'Ada' }),
  greet: (input) => `Hello, ${(input.fetch_user as { name: string }).name}!`,
};

async function main(): Promise<void> {
  await migrate();
  const pgflow = pgflowSql(db);

  await pgflow.createFlow('greet_user', { maxAttempts: 3 });
  await pgflow.addStep('greet_user', 'fetch_user');
  await pgflow.addStep('greet_user', 'greet', { dependsOn: ['fetch_user'] });
  const run = await pgflow.startFlow('greet_user', { userId: 42 });
  console.log(`started run ${run.runId}`);

  // The worker protocol: read messages, start their tasks, complete them.
  const workerId = randomUUID();
  await pgflow.registerWorker(workerId, 'greet_user', 'example-worker');
  for (let round = 0; round < 50; round++) {
    const [current] = await db.select({ status: runs.status }).from(runs).where(eq(runs.runId, run.runId));
    if (current?.status !== 'started') break;
    const messages = await pgflow.readMessages('greet_user', 30, 10);
    const tasks = await pgflow.startTasks('greet_user', messages.map((message) => message.msgId), workerId);
    for (const task of tasks) {
      const output = handlers[task.stepSlug]!(task.input);
      await pgflow.completeTask({ runId: task.runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output });
      console.log(`completed ${task.stepSlug}`);
    }
    if (tasks.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await pgflow.stopWorker(workerId);

  // Typed queries on pgflow's tables.
  const [finished] = await db.select().from(runs).where(eq(runs.runId, run.runId));
  const steps = await db
    .select({ stepSlug: stepStates.stepSlug, status: stepStates.status })
    .from(stepStates)
    .where(eq(stepStates.runId, run.runId))
    .orderBy(asc(stepStates.stepSlug));
  const withStates = await db.query.runs.findFirst({ where: eq(runs.runId, run.runId), with: { stepStates: true } });

  console.log(JSON.stringify({ status: finished?.status, output: finished?.output, steps, stepStates: withStates?.stepStates.length }));
  await pool.end();
}

main().catch(async (error: unknown) => {
  console.error(error);
  await pool.end();
  process.exitCode = 1;
});
