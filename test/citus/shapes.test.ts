/**
 * The flow shapes that move a run forward without a worker, on a distributed
 * install: maps over a step's output (an empty one completing at once and
 * cascading), conditions that skip, skip with their dependents or fail the
 * run, a step skipped when its task fails for good, and a map over something
 * that is not an array. Driven through plain SQL with the batched protocol.
 */
import { describe, expect, it } from 'vitest';
import { defineFlow, newWorkerId, uniqueSlug } from '../engine/support.js';
import { listen } from '../support/events.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

interface Claimed {
  run_id: string;
  step_slug: string;
  task_index: number;
  input: unknown;
}

type Handler = (task: Claimed) => unknown;

const startRun = async (flowSlug: string, input: unknown) =>
  (await db.query<{ run_id: string }>(`select run_id from pgflow.start_flow($1::text, $2::jsonb)`, [flowSlug, JSON.stringify(input)]))[0]!.run_id;

/**
 * Claims and finishes the flow's tasks until no run of it is `started`: a handler that throws fails the task.
 * Returns how often each task (run/step/index) was handed out.
 */
async function drain(flowSlug: string, handler: Handler): Promise<Map<string, number>> {
  const worker = newWorkerId();
  const handedOut = new Map<string, number>();
  for (let round = 0; round < 200; round++) {
    const claimed = await db.query<Claimed>(`select * from pgflow.claim_tasks($1::text, $2::uuid, 25)`, [flowSlug, worker]);
    if (claimed.length === 0) {
      const [left] = await db.query<{ n: number }>(`select count(*)::int as n from pgflow.runs where flow_slug = $1 and status = 'started'`, [
        flowSlug,
      ]);
      if (left!.n === 0) return handedOut;
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const done: { task: Claimed; output: unknown }[] = [];
    for (const task of claimed) {
      const key = `${task.run_id}/${task.step_slug}/${task.task_index}`;
      handedOut.set(key, (handedOut.get(key) ?? 0) + 1);
      try {
        done.push({ task, output: handler(task) });
      } catch (error) {
        await db.query(`select pgflow.fail_task($1::uuid, $2::text, $3::int, $4::text)`, [
          task.run_id,
          task.step_slug,
          task.task_index,
          (error as Error).message,
        ]);
      }
    }
    if (done.length > 0) {
      await db.query(`select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::jsonb[])`, [
        done.map((d) => d.task.run_id),
        done.map((d) => d.task.step_slug),
        done.map((d) => d.task.task_index),
        done.map((d) => JSON.stringify(d.output)),
      ]);
    }
  }
  throw new Error(`the runs of ${flowSlug} did not finish`);
}

const runs = (flowSlug: string) =>
  db.query<{ run_id: string; status: string; input: { n: number }; output: unknown }>(
    `select run_id, status, input, output from pgflow.runs where flow_slug = $1 order by run_id`,
    [flowSlug],
  );

const states = (runId: string) =>
  db
    .query<{ step_slug: string; status: string; skip_reason: string | null; initial_tasks: number | null }>(
      `select step_slug, status, skip_reason, initial_tasks from pgflow.step_states where run_id = $1 order by step_slug`,
      [runId],
    )
    .then((rows) => Object.fromEntries(rows.map(({ step_slug, ...rest }) => [step_slug, rest])));

const queueLength = async (flowSlug: string) =>
  (await db.query<{ n: number }>(`select count(*)::int as n from pgmq."q_${flowSlug}"`))[0]!.n;

describe('flow shapes on Citus', () => {
  it('maps over a step’s output, one task per element, and completes an empty map at once, its dependents following', async () => {
    const flow = await defineFlow(db, uniqueSlug('map'), {
      steps: [
        { slug: 'list' },
        { slug: 'each', deps: ['list'], stepType: 'map' },
        { slug: 'again', deps: ['each'], stepType: 'map' },
        { slug: 'sum', deps: ['again'] },
      ],
    });
    const listener = await listen(await db.connect(), [flow]);
    const sizes = [0, 1, 3, 5, 0, 2, 4, 0];
    for (const n of sizes) await startRun(flow, { n });

    const handedOut = await drain(flow, (task) => {
      const input = task.input as Record<string, unknown>;
      switch (task.step_slug) {
        case 'list':
          return Array.from({ length: (input.run as { n: number }).n }, (_, i) => i + 1);
        case 'each':
        case 'again':
          return (input as unknown as number) * 10;
        default:
          return (input.again as number[]).reduce((a, b) => a + b, 0);
      }
    });
    expect([...handedOut.values()].every((count) => count === 1)).toBe(true);
    // list and sum once per run; each and again once per element.
    expect(handedOut.size).toBe(sizes.length * 2 + 2 * sizes.reduce((a, b) => a + b, 0));

    for (const run of await runs(flow)) {
      const n = run.input.n;
      const doubled = Array.from({ length: n }, (_, i) => (i + 1) * 100);
      expect(run).toMatchObject({ status: 'completed', output: { sum: doubled.reduce((a, b) => a + b, 0) } });
      const steps = await states(run.run_id);
      expect(steps.each).toMatchObject({ status: 'completed', initial_tasks: n });
      expect(steps.again).toMatchObject({ status: 'completed', initial_tasks: n });
      const [each] = await db.query(`select pgflow.step_output($1::uuid, 'again') as output`, [run.run_id]);
      expect(each).toEqual({ output: doubled });
    }
    const emptyCompletions = await listener.waitFor(flow, (e) => e.event === 'step:completed' && e.payload.step_slug === 'again', sizes.length);
    expect(emptyCompletions).toHaveLength(sizes.length);
    expect(await queueLength(flow)).toBe(0);
    await listener.stop();
  });

  it('skips a step whose condition is not met (alone or with its dependents) and fails the run when told to', async () => {
    const flow = await defineFlow(db, uniqueSlug('cond'), {
      steps: [
        { slug: 'check' },
        { slug: 'big', deps: ['check'], if: { check: { big: true } }, whenUnmet: 'skip' },
        { slug: 'after_big', deps: ['big'] },
        { slug: 'small', deps: ['check'], ifNot: { check: { big: true } }, whenUnmet: 'skip-cascade' },
        { slug: 'after_small', deps: ['small'] },
        { slug: 'guard', deps: ['check'], ifNot: { check: { bad: true } }, whenUnmet: 'fail' },
      ],
    });
    const inputs = [
      { n: 1, big: true },
      { n: 2, big: false },
      { n: 3, big: true, bad: true },
      { n: 4, big: false },
    ];
    for (const input of inputs) await startRun(flow, input);
    const handedOut = await drain(flow, (task) => {
      if (task.step_slug === 'check') return (task.input as { run: unknown }).run;
      return { step: task.step_slug, saw: Object.keys(task.input as object).sort() };
    });
    expect([...handedOut.values()].every((count) => count === 1)).toBe(true);

    const byN = new Map((await runs(flow)).map((run) => [run.input.n, run]));
    // big input: small and what follows it are skipped; after_big runs with big's output.
    expect(byN.get(1)).toMatchObject({
      status: 'completed',
      output: { after_big: { step: 'after_big', saw: ['big', 'run'] }, guard: { step: 'guard', saw: ['check', 'run'] } },
    });
    expect(await states(byN.get(1)!.run_id)).toMatchObject({
      big: { status: 'completed' },
      small: { status: 'skipped', skip_reason: 'condition_unmet' },
      after_small: { status: 'skipped', skip_reason: 'dependency_skipped' },
    });
    // small input: big is skipped alone, after_big runs without its key.
    for (const n of [2, 4]) {
      expect(byN.get(n)).toMatchObject({
        status: 'completed',
        output: { after_big: { step: 'after_big', saw: ['run'] }, after_small: { step: 'after_small', saw: ['run', 'small'] } },
      });
      expect(await states(byN.get(n)!.run_id)).toMatchObject({ big: { status: 'skipped', skip_reason: 'condition_unmet' } });
    }
    // bad input: guard fails the run, naming its condition.
    expect(byN.get(3)).toMatchObject({ status: 'failed' });
    const [guard] = await db.query<{ status: string; error_message: string }>(
      `select status, error_message from pgflow.step_states where run_id = $1 and step_slug = 'guard'`,
      [byN.get(3)!.run_id],
    );
    expect(guard).toEqual({ status: 'failed', error_message: expect.stringContaining('condition not met') });
    expect(await queueLength(flow)).toBe(0);
  });

  it('skips a step whose task failed for good when told to, and fails a run whose map gets no array', async () => {
    const flow = await defineFlow(db, uniqueSlug('exhausted'), {
      steps: [
        { slug: 'first' },
        { slug: 'flaky', deps: ['first'], maxAttempts: 1, whenExhausted: 'skip' },
        { slug: 'after', deps: ['flaky'] },
        { slug: 'each', deps: ['first'], stepType: 'map' },
      ],
    });
    await startRun(flow, { n: 1, array: true });
    await startRun(flow, { n: 2, array: false });
    await drain(flow, (task) => {
      const input = task.input as Record<string, unknown>;
      if (task.step_slug === 'first') return (input.run as { array: boolean }).array ? ['a', 'b'] : { not: 'an array' };
      if (task.step_slug === 'flaky') throw new Error('flaky failed');
      return task.step_slug === 'each' ? `${input as unknown as string}!` : Object.keys(input).sort();
    });
    const byN = new Map((await runs(flow)).map((run) => [run.input.n, run]));
    expect(byN.get(1)).toMatchObject({ status: 'completed', output: { after: ['run'], each: ['a!', 'b!'] } });
    expect(await states(byN.get(1)!.run_id)).toMatchObject({ flaky: { status: 'skipped', skip_reason: 'handler_failed' } });
    expect(byN.get(2)).toMatchObject({ status: 'failed' });
    const [each] = await db.query<{ status: string; error_message: string }>(
      `select status, error_message from pgflow.step_states where run_id = $1 and step_slug = 'each'`,
      [byN.get(2)!.run_id],
    );
    expect(each).toEqual({ status: 'failed', error_message: 'map step "each" expects an array from step "first", got object' });
    expect(await queueLength(flow)).toBe(0);
  });
});
