/**
 * Conditional steps: a step runs only when its input contains
 * required_input_pattern and does not contain forbidden_input_pattern; when
 * it does not, when_unmet fails the run, skips the step, or skips it and
 * everything after it. when_exhausted does the same for a task that failed
 * its last attempt. A skipped step counts as finished; its dependents run
 * without its key in their input.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { listen } from '../support/events.js';
import {
  defineFlow,
  drain,
  errorOf,
  getRun,
  newWorkerId,
  archiveRows,
  queueRows,
  readMessages,
  sleep,
  startFlow,
  startTasks,
  stepStates,
  uniqueSlug,
  failTask,
  type ClaimedTaskRow,
} from './support.js';

const db = useTestDatabase();

/** Drains the flow, each task returning its input; returns the inputs by step slug. */
async function run(flow: string, input: unknown, handler: (task: ClaimedTaskRow) => unknown = (task) => task.input) {
  const started = await startFlow(db, flow, input);
  const inputs: Record<string, unknown> = {};
  await drain(db, flow, (task) => {
    inputs[task.step_slug] = task.input;
    return handler(task);
  });
  return { runId: started.run_id, inputs, run: await getRun(db, started.run_id), states: await stepStates(db, started.run_id) };
}

describe('required_input_pattern and forbidden_input_pattern', () => {
  it('a root step is checked against {"run": <input>}: it runs when the pattern is contained, and is skipped otherwise', async () => {
    const flow = await defineFlow(db, uniqueSlug('if_root'), {
      steps: [{ slug: 'pdf', if: { run: { kind: 'pdf' } } }, { slug: 'always' }, { slug: 'not_draft', ifNot: { run: { draft: true } } }],
    });
    const matched = await run(flow, { kind: 'pdf', draft: true, pages: 3 });
    expect(Object.keys(matched.inputs).sort()).toEqual(['always', 'pdf']);
    expect(matched.states.pdf!.status).toBe('completed');
    expect(matched.states.not_draft).toMatchObject({ status: 'skipped', skip_reason: 'condition_unmet', started_at: null, error_message: null });
    expect(matched.states.not_draft!.skipped_at).toBeInstanceOf(Date);
    expect(matched.run).toMatchObject({ status: 'completed', output: { pdf: matched.inputs.pdf, always: matched.inputs.always } });

    const other = await run(flow, { kind: 'png' });
    expect(Object.keys(other.inputs).sort()).toEqual(['always', 'not_draft']);
    expect(other.states.pdf).toMatchObject({ status: 'skipped', skip_reason: 'condition_unmet' });
    expect(other.run.output).toEqual({ always: { run: { kind: 'png' } }, not_draft: { run: { kind: 'png' } } });
  });

  it('a dependent is checked against its input; its own dependents run without the skipped key', async () => {
    const flow = await defineFlow(db, uniqueSlug('if_dep'), {
      steps: [
        { slug: 'classify' },
        { slug: 'escalate', deps: ['classify'], if: { classify: { urgent: true } } },
        { slug: 'notify', deps: ['classify', 'escalate'] },
      ],
    });
    const calm = await run(flow, { id: 1 }, (task) => (task.step_slug === 'classify' ? { urgent: false } : task.input));
    expect(calm.states.escalate).toMatchObject({ status: 'skipped', skip_reason: 'condition_unmet' });
    expect(calm.inputs.notify).toEqual({ run: { id: 1 }, classify: { urgent: false } });
    expect(calm.run).toMatchObject({ status: 'completed', output: { notify: { run: { id: 1 }, classify: { urgent: false } } } });

    const urgent = await run(flow, { id: 2 }, (task) => (task.step_slug === 'classify' ? { urgent: true, team: 'ops' } : task.step_slug));
    expect(urgent.inputs.notify).toEqual({ run: { id: 2 }, classify: { urgent: true, team: 'ops' }, escalate: 'escalate' });
    expect(urgent.states.escalate!.status).toBe('completed');
  });

  it('both patterns at once: contained and not forbidden', async () => {
    const flow = await defineFlow(db, uniqueSlug('if_both'), { steps: [{ slug: 'send', if: { run: { ok: true } }, ifNot: { run: { muted: true } } }] });
    expect((await run(flow, { ok: true })).states.send!.status).toBe('completed');
    expect((await run(flow, { ok: true, muted: true })).states.send!.status).toBe('skipped');
    expect((await run(flow, { ok: false })).states.send!.status).toBe('skipped');
  });

  it('a map step is checked against {"run", <dep>: <the whole array>}; skipped, it has no task', async () => {
    const flow = await defineFlow(db, uniqueSlug('if_map'), {
      steps: [{ slug: 'list' }, { slug: 'each', deps: ['list'], stepType: 'map', ifNot: { list: ['skip-me'] } }, { slug: 'after', deps: ['each'] }],
    });
    const ran = await run(flow, {}, (task) => (task.step_slug === 'list' ? ['a', 'b'] : task.input));
    expect(ran.states.each).toMatchObject({ status: 'completed', initial_tasks: 2 });
    const skipped = await run(flow, {}, (task) => (task.step_slug === 'list' ? ['a', 'skip-me'] : task.input));
    expect(skipped.states.each).toMatchObject({ status: 'skipped', initial_tasks: null });
    expect(skipped.inputs.after).toEqual({ run: {} });
    expect(skipped.inputs.each).toBeUndefined();
  });
});

describe('when_unmet', () => {
  it("'fail' fails the run, naming the step and the pattern, and stops its other work", async () => {
    const flow = await defineFlow(db, uniqueSlug('unmet_fail'), {
      steps: [{ slug: 'side' }, { slug: 'check' }, { slug: 'guarded', deps: ['check'], if: { check: { allowed: true } }, whenUnmet: 'fail' }],
    });
    const started = await startFlow(db, flow, {});
    const tasks = await startTasks(db, flow, (await readMessages(db, flow)).map((message) => message.msg_id), newWorkerId());
    expect(tasks).toHaveLength(2);
    await db.query(`select pgflow.complete_task($1, 'check', 0, '{"allowed": false}')`, [started.run_id]);
    const message = 'condition not met: the input of step "guarded" does not contain {"check": {"allowed": true}}';
    expect(await getRun(db, started.run_id)).toMatchObject({ status: 'failed' });
    const states = await stepStates(db, started.run_id);
    expect(states.guarded).toMatchObject({ status: 'failed', error_message: message });
    expect(states.side).toMatchObject({ status: 'failed', error_message: 'run failed because step "guarded" failed' });
    expect(await queueRows(db, flow)).toEqual([]);

    const forbidden = await defineFlow(db, uniqueSlug('unmet_fail_not'), { steps: [{ slug: 'only', ifNot: { run: { x: 1 } }, whenUnmet: 'fail' }] });
    const refused = await startFlow(db, forbidden, { x: 1 });
    expect(refused.status).toBe('failed');
    expect((await stepStates(db, refused.run_id)).only!.error_message).toBe('condition not met: the input of step "only" contains {"run": {"x": 1}}');
  });

  it("'skip-cascade' skips the step and every step after it, transitively; the others run and the run completes", async () => {
    const flow = await defineFlow(db, uniqueSlug('unmet_cascade'), {
      steps: [
        { slug: 'root' },
        { slug: 'gate', deps: ['root'], if: { root: { go: true } }, whenUnmet: 'skip-cascade' },
        { slug: 'child', deps: ['gate'] },
        { slug: 'grandchild', deps: ['child', 'root'] },
        { slug: 'sibling', deps: ['root'] },
      ],
    });
    const result = await run(flow, {}, (task) => (task.step_slug === 'root' ? { go: false } : 'ran'));
    expect(Object.keys(result.inputs).sort()).toEqual(['root', 'sibling']);
    expect(Object.fromEntries(Object.entries(result.states).map(([slug, state]) => [slug, [state.status, state.skip_reason]]))).toEqual({
      root: ['completed', null],
      gate: ['skipped', 'condition_unmet'],
      child: ['skipped', 'dependency_skipped'],
      grandchild: ['skipped', 'dependency_skipped'],
      sibling: ['completed', null],
    });
    expect(result.run).toMatchObject({ status: 'completed', remaining_steps: 0, output: { sibling: 'ran' } });
  });

  it('a run whose leaf steps were all skipped completes with those keys absent from its output', async () => {
    const flow = await defineFlow(db, uniqueSlug('all_skipped'), {
      steps: [{ slug: 'a', if: { run: { yes: true } } }, { slug: 'b', deps: ['a'] }, { slug: 'c', if: { run: { yes: true } }, whenUnmet: 'skip-cascade' }],
    });
    const result = await run(flow, { yes: false });
    expect(result.inputs).toEqual({ b: { run: { yes: false } } });
    expect(result.run).toMatchObject({ status: 'completed', output: { b: { run: { yes: false } } } });
    const none = await defineFlow(db, uniqueSlug('none_left'), { steps: [{ slug: 'a', if: { run: { yes: true } }, whenUnmet: 'skip-cascade' }, { slug: 'b', deps: ['a'] }] });
    const started = await startFlow(db, none, { yes: false });
    expect(started).toMatchObject({ status: 'completed', output: {} });
  });

  it('a map over a skipped step has no element: it completes with [] and its dependents run', async () => {
    const flow = await defineFlow(db, uniqueSlug('map_over_skipped'), {
      steps: [{ slug: 'list', if: { run: { list: true } } }, { slug: 'each', deps: ['list'], stepType: 'map' }, { slug: 'after', deps: ['each'] }],
    });
    const result = await run(flow, { list: false });
    expect(result.states.each).toMatchObject({ status: 'completed', initial_tasks: 0 });
    expect(result.inputs.after).toEqual({ run: { list: false }, each: [] });
    expect(result.run.status).toBe('completed');
  });
});

describe('when_exhausted', () => {
  it("'skip': the step is skipped after its last attempt, keeping the error; its dependents run without it", async () => {
    const flow = await defineFlow(db, uniqueSlug('exhausted_skip'), {
      baseDelay: 0,
      steps: [{ slug: 'enrich', maxAttempts: 2, whenExhausted: 'skip' }, { slug: 'save', deps: ['enrich'] }],
    });
    let attempts = 0;
    const result = await run(flow, { id: 9 }, (task) => {
      if (task.step_slug === 'enrich') {
        attempts += 1;
        throw new Error(`enrichment service down (${attempts})`);
      }
      return task.input;
    });
    expect(attempts).toBe(2);
    expect(result.states.enrich).toMatchObject({ status: 'skipped', skip_reason: 'handler_failed', error_message: 'enrichment service down (2)', failed_at: null });
    expect(result.inputs.save).toEqual({ run: { id: 9 } });
    expect(result.run).toMatchObject({ status: 'completed', output: { save: { run: { id: 9 } } } });
    // The failed attempt's message left the queue with it (archived, not waiting to be read again).
    expect(await queueRows(db, flow)).toEqual([]);
    expect((await archiveRows(db, flow)).map((row) => row.message.step_slug).sort()).toEqual(['enrich', 'save']);
  });

  it("'skip-cascade' skips its dependents too; 'fail' (the default) fails the run", async () => {
    const cascade = await defineFlow(db, uniqueSlug('exhausted_cascade'), {
      steps: [{ slug: 'a', maxAttempts: 1, whenExhausted: 'skip-cascade' }, { slug: 'b', deps: ['a'] }, { slug: 'c' }],
    });
    const skipped = await run(cascade, {}, (task) => {
      if (task.step_slug === 'a') throw new Error('no');
      return 'c ran';
    });
    expect([skipped.states.a!.status, skipped.states.b!.skip_reason, skipped.states.c!.status]).toEqual(['skipped', 'dependency_skipped', 'completed']);
    expect(skipped.run).toMatchObject({ status: 'completed', output: { c: 'c ran' } });

    const failing = await defineFlow(db, uniqueSlug('exhausted_fail'), { steps: [{ slug: 'a', maxAttempts: 1 }, { slug: 'b', deps: ['a'] }] });
    const failed = await run(failing, {}, () => {
      throw new Error('boom');
    });
    expect(failed.run.status).toBe('failed');
    expect(failed.states.a).toMatchObject({ status: 'failed', error_message: 'boom', skip_reason: null });
  });

  it("'skip' also after a last attempt that timed out (its worker went silent)", async () => {
    const flow = await defineFlow(db, uniqueSlug('exhausted_silent'), {
      timeout: 1,
      steps: [{ slug: 'slow', maxAttempts: 1, whenExhausted: 'skip' }, { slug: 'after', deps: ['slow'] }],
    });
    const started = await startFlow(db, flow, {});
    await startTasks(db, flow, (await readMessages(db, flow)).map((message) => message.msg_id), newWorkerId());
    await sleep(3_200);
    // The claim that meets the silent task's message gives up on the task (and starts nothing) ...
    expect(await drain(db, flow)).toEqual([]);
    // ... and the step after it is queued by then.
    const handled = await drain(db, flow);
    expect(handled.map((task) => [task.step_slug, task.input])).toEqual([['after', { run: {} }]]);
    expect((await stepStates(db, started.run_id)).slow).toMatchObject({
      status: 'skipped',
      skip_reason: 'handler_failed',
      error_message: 'timed out: attempt 1 of 1 did not finish within 3 s (timeout + 2 s)',
    });
    expect((await getRun(db, started.run_id)).status).toBe('completed');
  });

  it("'skip' on a map: one element failing for good skips the whole map, and its other tasks stop", async () => {
    const flow = await defineFlow(db, uniqueSlug('exhausted_map'), {
      steps: [{ slug: 'each', stepType: 'map', maxAttempts: 1, whenExhausted: 'skip' }, { slug: 'after', deps: ['each'] }],
    });
    const started = await startFlow(db, flow, [1, 2, 3]);
    const [message] = await readMessages(db, flow, 30, 1);
    const [task] = await startTasks(db, flow, [message!.msg_id], newWorkerId());
    await failTask(db, started.run_id, 'each', 'bad element', task!.task_index);
    const states = await stepStates(db, started.run_id);
    expect(states.each).toMatchObject({ status: 'skipped', skip_reason: 'handler_failed', error_message: 'bad element' });
    const tasks = await db.query<{ status: string; error_message: string }>(`select status, error_message from pgflow.step_tasks where run_id = $1 and step_slug = 'each' order by task_index`, [
      started.run_id,
    ]);
    expect(tasks.filter((t) => t.error_message === 'not run: step "each" was skipped')).toHaveLength(2);
    expect(tasks.every((t) => t.status === 'failed')).toBe(true);
    const handled = await drain(db, flow);
    expect(handled.map((t) => [t.step_slug, t.input])).toEqual([['after', { run: [1, 2, 3] }]]);
    expect((await getRun(db, started.run_id)).status).toBe('completed');
  });
});

describe('skip events', () => {
  it('step:skipped per skipped step, in step order, with skip_reason (and the error, after a handler failed)', async () => {
    const flow = await defineFlow(db, uniqueSlug('skip_events'), {
      baseDelay: 0,
      steps: [
        { slug: 'gate', if: { run: { go: true } }, whenUnmet: 'skip-cascade' },
        { slug: 'after_gate', deps: ['gate'] },
        { slug: 'flaky', maxAttempts: 1, whenExhausted: 'skip' },
      ],
    });
    const listener = await listen(await db.connect(), [flow]);
    try {
      await run(flow, { go: false }, () => {
        throw new Error('flaky failed');
      });
      await listener.waitFor(flow, (event) => event.event === 'run:completed', 1);
      const skipped = listener.on(flow).filter(({ event }) => event.event === 'step:skipped').map(({ event }) => event.payload);
      expect(skipped.map((payload) => [payload.step_slug, payload.skip_reason, payload.status, payload.error_message ?? null])).toEqual([
        ['gate', 'condition_unmet', 'skipped', null],
        ['after_gate', 'dependency_skipped', 'skipped', null],
        ['flaky', 'handler_failed', 'skipped', 'flaky failed'],
      ]);
    } finally {
      await listener.stop();
    }
  });
});

describe('add_step conditions', () => {
  it('stores the patterns and modes, with defaults skip / fail; bad values are clear errors', async () => {
    const flow = await defineFlow(db, uniqueSlug('cond_options'), { steps: [] });
    const [defaults] = await db.query(`select * from pgflow.add_step($1, 'plain')`, [flow]);
    expect(defaults).toMatchObject({ required_input_pattern: null, forbidden_input_pattern: null, when_unmet: 'skip', when_exhausted: 'fail' });
    const [set] = await db.query(
      `select * from pgflow.add_step($1, 'set', required_input_pattern => '{"run": {"a": 1}}', when_unmet => 'skip-cascade', when_exhausted => 'skip')`,
      [flow],
    );
    expect(set).toMatchObject({ required_input_pattern: { run: { a: 1 } }, when_unmet: 'skip-cascade', when_exhausted: 'skip' });
    expect((await errorOf(() => db.query(`select pgflow.add_step($1, 'x', required_input_pattern => '[1]')`, [flow]))).message).toBe(
      'required_input_pattern of step "x" must be a JSON object, got array',
    );
    expect((await errorOf(() => db.query(`select pgflow.add_step($1, 'x', when_unmet => 'ignore')`, [flow]))).message).toBe(
      `invalid when_unmet "ignore" for step "x": expected 'fail', 'skip' or 'skip-cascade'`,
    );
    expect((await errorOf(() => db.query(`select pgflow.add_step($1, 'x', when_exhausted => 'retry')`, [flow]))).message).toBe(
      `invalid when_exhausted "retry" for step "x": expected 'fail', 'skip' or 'skip-cascade'`,
    );
    expect(await db.query(`select 1 from pgflow.steps where flow_slug = $1 and step_slug = 'x'`, [flow])).toEqual([]);
  });
});
