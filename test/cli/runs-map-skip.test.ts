/**
 * `pgflow-orm runs show` on a run with a map step (one task per element)
 * and skipped steps: each skipped step's status says why it was skipped,
 * and the run's output has no key for it; `--json` carries skipReason.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { useTestDatabase } from '../support/database.js';
import { cliOk } from './support.js';

const db = useTestDatabase();
const worker = randomUUID();
let runId: string;

beforeAll(async () => {
  const sql = pgflowSql(db.pool);
  await sql.createFlow('cli_cond', { maxAttempts: 1 });
  await sql.addStep('cli_cond', 'list');
  await sql.addStep('cli_cond', 'each', { dependsOn: ['list'], stepType: 'map' });
  await sql.addStep('cli_cond', 'gate', { requiredInputPattern: { run: { go: true } }, whenUnmet: 'skip-cascade' });
  await sql.addStep('cli_cond', 'after_gate', { dependsOn: ['gate'] });
  await sql.addStep('cli_cond', 'flaky', { whenExhausted: 'skip' });
  runId = (await sql.startFlow('cli_cond', { go: false })).runId;
  for (const task of await sql.claimTasks('cli_cond', worker, 10)) {
    if (task.stepSlug === 'list') await sql.completeTask({ runId, stepSlug: 'list', output: ['a', 'b'] });
    else await sql.failTask({ runId, stepSlug: task.stepSlug, errorMessage: 'flaky broke' });
  }
  for (const task of await sql.claimTasks('cli_cond', worker, 10)) {
    await sql.completeTask({ runId, stepSlug: task.stepSlug, taskIndex: task.taskIndex, output: `${String(task.input)}!` });
  }
  expect((await sql.getRunWithStates(runId))?.run.status).toBe('completed');
});

describe('pgflow-orm runs show', () => {
  it('shows skipped steps with the reason, and a map step with one task per element', async () => {
    const { stdout } = await cliOk(['runs', 'show', runId, '--database-url', db.url]);
    expect(stdout).toContain('status    completed\n');
    expect(stdout).toContain('output    {"each":["a!","b!"]}');
    expect(stdout).toMatch(/\n  list\s+completed\s+/);
    expect(stdout).toMatch(/\n  gate\s+skipped: condition not met\s+-\s+-\s*\n/);
    expect(stdout).toMatch(/\n  after_gate\s+skipped: a step it depends on was skipped\s+-\s+-\s*\n/);
    expect(stdout).toMatch(/\n  flaky\s+skipped: its task failed its last attempt\s+\S+ \S+\s+\d+ ms\s+flaky broke\n/);
    expect(stdout).toMatch(/\n  each\s+0\s+completed\s+1\s/);
    expect(stdout).toMatch(/\n  each\s+1\s+completed\s+1\s/);

    const json = JSON.parse((await cliOk(['runs', 'show', runId, '--json', '--database-url', db.url])).stdout) as {
      steps: { stepSlug: string; status: string; skipReason: string | null }[];
    };
    expect(json.steps.map((step) => [step.stepSlug, step.status, step.skipReason])).toEqual([
      ['list', 'completed', null],
      ['each', 'completed', null],
      ['gate', 'skipped', 'condition_unmet'],
      ['after_gate', 'skipped', 'dependency_skipped'],
      ['flaky', 'skipped', 'handler_failed'],
    ]);
  });
});
