import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

describe('smoke', () => {
  it('runs a diamond flow end to end through the worker protocol', async () => {
    await db.query(`select pgflow.create_flow('diamond')`);
    await db.query(`select pgflow.add_step('diamond', 'start')`);
    await db.query(`select pgflow.add_step('diamond', 'left', array['start'])`);
    await db.query(`select pgflow.add_step('diamond', 'right', array['start'])`);
    await db.query(`select pgflow.add_step('diamond', 'join', array['left', 'right'])`);
    const [run] = await db.query<{ run_id: string }>(`select * from pgflow.start_flow('diamond', '{"x": 1}')`);
    const worker = randomUUID();
    for (let i = 0; i < 3; i++) {
      const messages = await db.query<{ msg_id: string }>(`select * from pgmq.read('diamond', 30, 10)`);
      const tasks = await db.query<{ run_id: string; step_slug: string; input: Record<string, unknown>; task_index: number }>(
        `select * from pgflow.start_tasks('diamond', $1::bigint[], $2)`,
        [messages.map((m) => m.msg_id), worker],
      );
      for (const task of tasks) {
        await db.query(`select * from pgflow.complete_task($1, $2, $3, $4)`, [task.run_id, task.step_slug, task.task_index, JSON.stringify({ from: task.step_slug, keys: Object.keys(task.input).sort() })]);
      }
    }
    const [finished] = await db.query<{ status: string; output: unknown }>(`select status, output from pgflow.runs where run_id = $1`, [run!.run_id]);
    expect(finished).toEqual({ status: 'completed', output: { join: { from: 'join', keys: ['left', 'right', 'run'] } } });
  });
});
