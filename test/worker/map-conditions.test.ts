/**
 * The worker with map, array and conditional steps, against a real database:
 * a root map and a dependent map (each handler gets its element and its task
 * index, the concurrency limit holds across a map's tasks), a map element
 * that fails once and is retried, an array step whose handler returns no
 * array, steps skipped by their conditions (dependents run without their
 * key) and a step skipped after its last attempt (retriesExhausted 'skip').
 * The fallback poll is a minute, so anything that happens sooner was woken
 * by an event or a timer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, RunFailedError, type PgflowClient } from '../../src/client/index.js';
import { Flow, type StepContext } from '../../src/flow/index.js';
import { startWorker, type WorkerHandle, type WorkerOptions } from '../../src/worker/index.js';
import { useTestDatabase } from '../support/database.js';
import { memoryLogger, sleep, uniqueSlug } from './support.js';

const db = useTestDatabase();
const workers: WorkerHandle[] = [];
const clients: PgflowClient[] = [];

async function worker(options: Omit<WorkerOptions, 'connectionString'>): Promise<WorkerHandle> {
  const handle = await startWorker({ connectionString: db.url, pollInterval: 60_000, logger: memoryLogger(), ...options });
  workers.push(handle);
  return handle;
}

function client(): PgflowClient {
  const created = createClient({ connectionString: db.url });
  clients.push(created);
  return created;
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((handle) => handle.stop({ gracePeriod: 0 })));
  await Promise.all(clients.splice(0).map((created) => created.close()));
});

const stepStates = async (runId: string) =>
  Object.fromEntries(
    (
      await db.query<{ step_slug: string; status: string; skip_reason: string | null; error_message: string | null }>(
        `select step_slug, status, skip_reason, error_message from pgflow.step_states where run_id = $1`,
        [runId],
      )
    ).map((row) => [row.step_slug, row]),
  );

describe('map steps', () => {
  it('runs a root map and a dependent map: one handler call per element, with its index, at most `concurrency` at once', async () => {
    const calls: { step: string; input: unknown; taskIndex: number; attempt: number }[] = [];
    let active = 0;
    let highest = 0;
    const record = (input: unknown, context: StepContext) => calls.push({ step: context.stepSlug, input, taskIndex: context.taskIndex, attempt: context.attempt });
    const flow = new Flow<{ id: number; name: string }[]>({ slug: uniqueSlug('maps') })
      .map({ slug: 'label' }, async (item, context) => {
        record(item, context);
        context.logger.info('labelling');
        active++;
        highest = Math.max(highest, active);
        await sleep(40);
        active--;
        return `${item.id}:${item.name}`;
      })
      .map({ slug: 'shout', array: 'label' }, (label, context) => {
        record(label, context);
        return label.toUpperCase();
      })
      .step({ slug: 'summary', dependsOn: ['label', 'shout'] }, (input, context) => {
        record(input, context);
        return { count: input.label.length, last: input.shout.at(-1) ?? null };
      });
    const logger = memoryLogger();
    const handle = await worker({ flows: [flow], concurrency: 2, logger });
    const input = [
      { id: 1, name: 'ada' },
      { id: 2, name: 'bob' },
      { id: 3, name: 'cy' },
      { id: 4, name: 'di' },
      { id: 5, name: 'eve' },
    ];
    const output = await client().runFlow(flow, input, { timeout: 20_000 });
    expect(output).toEqual({ summary: { count: 5, last: '5:EVE' } });

    const byStep = (step: string) => calls.filter((call) => call.step === step).sort((a, b) => a.taskIndex - b.taskIndex);
    expect(byStep('label').map((call) => [call.taskIndex, call.input, call.attempt])).toEqual(input.map((item, index) => [index, item, 1]));
    expect(byStep('shout').map((call) => [call.taskIndex, call.input])).toEqual(input.map((item, index) => [index, `${item.id}:${item.name}`]));
    expect(byStep('summary')).toEqual([
      {
        step: 'summary',
        taskIndex: 0,
        attempt: 1,
        input: { run: input, label: ['1:ada', '2:bob', '3:cy', '4:di', '5:eve'], shout: ['1:ADA', '2:BOB', '3:CY', '4:DI', '5:EVE'] },
      },
    ]);
    expect(highest).toBe(2);
    expect(handle.stats()).toMatchObject({ claimed: 11, failed: 0 });
    // The logger of a map task names the task.
    expect(logger.entries.find((entry) => entry.message === 'labelling' && entry.fields?.taskIndex === 4)?.fields).toEqual({
      flowSlug: flow.slug,
      stepSlug: 'label',
      taskIndex: 4,
      runId: expect.any(String),
      attempt: 1,
    });
  });

  it('retries a map element that fails once, with the real backoff, and keeps the outputs in element order', async () => {
    const attempts = new Map<number, number>();
    const flow = new Flow<{ words: string[] }>({ slug: uniqueSlug('map_retry'), baseDelay: 1 })
      .array({ slug: 'words' }, ({ run }) => run.words)
      .map({ slug: 'length', array: 'words' }, (word, { taskIndex, attempt }) => {
        attempts.set(taskIndex, attempt);
        if (word === 'flaky' && attempt === 1) throw new Error(`element ${taskIndex} failed on attempt ${attempt}`);
        return word.length;
      });
    const handle = await worker({ flows: [flow] });
    const started = Date.now();
    const output = await client().runFlow(flow, { words: ['a', 'flaky', 'abc'] }, { timeout: 20_000 });
    expect(output).toEqual({ length: [1, 5, 3] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect([...attempts.entries()].sort()).toEqual([
      [0, 1],
      [1, 2],
      [2, 1],
    ]);
    const tasks = await db.query<{ task_index: number; attempts_count: number; error_message: string | null }>(
      `select task_index, attempts_count, error_message from pgflow.step_tasks t join pgflow.runs r using (run_id)
        where r.flow_slug = $1 and t.step_slug = 'length' order by task_index`,
      [flow.slug],
    );
    expect(tasks).toEqual([
      { task_index: 0, attempts_count: 1, error_message: null },
      { task_index: 1, attempts_count: 2, error_message: 'element 1 failed on attempt 1' },
      { task_index: 2, attempts_count: 1, error_message: null },
    ]);
    expect(handle.stats()).toMatchObject({ failed: 1 });
  });

  it('fails the attempt of a map element whose output is not JSON, naming the task', async () => {
    const flow = new Flow<number[]>({ slug: uniqueSlug('map_json'), maxAttempts: 1 }).map({ slug: 'when' }, (n) => (n === 2 ? (new Date(0) as never) : n));
    await worker({ flows: [flow] });
    const error = await client()
      .runFlow(flow, [1, 2, 3], { timeout: 20_000 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RunFailedError);
    expect((error as RunFailedError).message).toBe(
      'the output of task 1 of map step "when" is not JSON-serialisable: $ is a Date, which would arrive as a string; return date.toISOString()',
    );
  });

  it('fails the attempt of an array step whose handler returns no array, before the engine sees it, and retries it', async () => {
    let calls = 0;
    const flow = new Flow<{ n: number }>({ slug: uniqueSlug('array_check'), baseDelay: 0 })
      .array({ slug: 'list', maxAttempts: 2 }, ({ run }) => {
        calls++;
        // Untyped code (or a cast) can return anything; the worker checks.
        return (calls === 1 ? { items: [run.n] } : [run.n]) as unknown as number[];
      })
      .map({ slug: 'double', array: 'list' }, (n) => n * 2);
    await worker({ flows: [flow] });
    const run = await client().startFlow(flow, { n: 4 });
    expect(await client().waitForRun(run.runId, { timeout: 20_000 })).toEqual({ double: [8] });
    const [task] = await db.query<{ attempts_count: number; error_message: string }>(
      `select attempts_count, error_message from pgflow.step_tasks where run_id = $1 and step_slug = 'list'`,
      [run.runId],
    );
    expect(task).toEqual({ attempts_count: 2, error_message: 'step "list" is an array step: its handler must return an array, but it returned an object' });

    const never = new Flow<{ n: number }>({ slug: uniqueSlug('array_never'), maxAttempts: 1 }).array({ slug: 'list' }, () => undefined as unknown as number[]);
    await worker({ flows: [never] });
    await expect(client().runFlow(never, { n: 1 }, { timeout: 20_000 })).rejects.toThrow(
      'step "list" is an array step: its handler must return an array, but it returned nothing',
    );
  });
});

describe('conditions', () => {
  it('skips steps whose condition is not met: dependents run without the key, skip-cascade takes the steps after it along', async () => {
    const inputs: Record<string, Record<string, unknown>> = {};
    const flow = new Flow<{ kind: 'pdf' | 'png'; pages: number }>({ slug: uniqueSlug('conditions') })
      .step({ slug: 'ocr', if: { run: { kind: 'pdf' } } }, ({ run }) => ({ text: `${run.pages} pages of text` }))
      .step({ slug: 'thumbnail', if: { run: { kind: 'png' } }, whenUnmet: 'skip-cascade' }, () => 'thumb.png')
      .step({ slug: 'gallery', dependsOn: ['thumbnail'] }, ({ thumbnail }) => [thumbnail])
      .step({ slug: 'publish', dependsOn: ['ocr'] }, (input) => {
        inputs.publish = input;
        return input.ocr ? `text: ${input.ocr.text}` : 'no text';
      });
    await worker({ flows: [flow] });
    const runs = client();

    const pdf = await runs.startFlow(flow, { kind: 'pdf', pages: 3 });
    expect(await runs.waitForRun(pdf.runId, { timeout: 20_000 })).toEqual({ publish: 'text: 3 pages of text' });
    expect(inputs.publish).toEqual({ run: { kind: 'pdf', pages: 3 }, ocr: { text: '3 pages of text' } });
    const pdfStates = await stepStates(pdf.runId);
    expect([pdfStates.thumbnail?.skip_reason, pdfStates.gallery?.skip_reason]).toEqual(['condition_unmet', 'dependency_skipped']);

    const png = await runs.startFlow(flow, { kind: 'png', pages: 1 });
    expect(await runs.waitForRun(png.runId, { timeout: 20_000 })).toEqual({ gallery: ['thumb.png'], publish: 'no text' });
    expect(inputs.publish).toEqual({ run: { kind: 'png', pages: 1 } });
    expect('ocr' in inputs.publish!).toBe(false);
    expect((await stepStates(png.runId)).ocr).toMatchObject({ status: 'skipped', skip_reason: 'condition_unmet' });
  });

  it("retriesExhausted 'skip': the step is skipped after its last attempt and its dependents run without it, woken by step:skipped", async () => {
    let attempts = 0;
    const seen: unknown[] = [];
    const flow = new Flow<{ id: number }>({ slug: uniqueSlug('exhausted'), baseDelay: 0 })
      .step({ slug: 'enrich', maxAttempts: 2, retriesExhausted: 'skip' }, () => {
        attempts++;
        throw new Error(`enrichment service down (${attempts})`);
      })
      .step({ slug: 'save', dependsOn: ['enrich'] }, (input) => {
        seen.push(input);
        return { saved: input.run.id, enriched: input.enrich !== undefined };
      });
    await worker({ flows: [flow] });
    const started = Date.now();
    const run = await client().startFlow(flow, { id: 7 });
    expect(await client().waitForRun(run.runId, { timeout: 20_000 })).toEqual({ save: { saved: 7, enriched: false } });
    // The fallback poll is a minute away: the dependent was claimed because of the step:skipped event.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(attempts).toBe(2);
    expect(seen).toEqual([{ run: { id: 7 } }]);
    expect((await stepStates(run.runId)).enrich).toMatchObject({ status: 'skipped', skip_reason: 'handler_failed', error_message: 'enrichment service down (2)' });
  });
});
