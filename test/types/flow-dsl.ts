/**
 * Type tests for the flow DSL, the worker options and the client, checked by
 * `tsc -p tsconfig.json` (never run). Each `@ts-expect-error` line holds
 * exactly one error; the `Equal` checks pin inferred types exactly.
 */
import type pg from 'pg';
import { createClient, getRun, startFlow, type FlowRun, type PgflowEvent, type RunId } from '../../src/client/index.js';
import type { Json } from '../../src/core/types.js';
import { Flow, type FlowInput, type FlowOutput, type LeafSteps, type StepContext, type StepOutput } from '../../src/flow/index.js';
import { startWorker } from '../../src/worker/index.js';

type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;
type Expect<T extends true> = T;

declare const db: pg.Pool;

// ---------------------------------------------------------------- inference of step inputs

const scrape = new Flow<{ url: string; depth?: number }>({ slug: 'scrape', maxAttempts: 3, baseDelay: 5, timeout: 60 })
  .step({ slug: 'fetch' }, async (input, context) => {
    type _input = Expect<Equal<typeof input, { run: { url: string; depth?: number } }>>;
    type _context = Expect<Equal<typeof context, StepContext>>;
    const signal: AbortSignal = context.signal;
    const attempt: number = context.attempt;
    void signal;
    void attempt;
    return { html: `<html>${input.run.url}</html>`, status: 200 };
  })
  .step({ slug: 'links', dependsOn: ['fetch'], timeout: 10 }, (input) => {
    type _input = Expect<Equal<typeof input, { run: { url: string; depth?: number }; fetch: { html: string; status: number } }>>;
    return input.fetch.html.split('href').map((part, index) => ({ index, part }));
  })
  .step({ slug: 'title', dependsOn: ['fetch'] }, ({ fetch }) => fetch.html.slice(0, 10))
  .step({ slug: 'report', dependsOn: ['links', 'title'], startDelay: 2 }, async (input) => {
    // Only the direct dependencies, not `fetch`:
    type _input = Expect<Equal<typeof input, { run: { url: string; depth?: number }; links: { index: number; part: string }[]; title: string }>>;
    return { count: input.links.length, title: input.title };
  })
  .step({ slug: 'notify', dependsOn: ['title'] }, async () => {
    // Returns nothing: dependents and the run output see null.
  });

type _flowInput = Expect<Equal<FlowInput<typeof scrape>, { url: string; depth?: number }>>;
type _leaves = Expect<Equal<LeafSteps<typeof scrape>, 'report' | 'notify'>>;
type _output = Expect<Equal<FlowOutput<typeof scrape>, { report: { count: number; title: string }; notify: null }>>;
type _stepOutput = Expect<Equal<StepOutput<typeof scrape, 'title'>, string>>;

// A step that sometimes returns nothing: dependents see null for it.
const maybe = new Flow<{ n: number }>({ slug: 'maybe' })
  .step({ slug: 'a' }, ({ run }) => (run.n > 0 ? { n: run.n } : undefined))
  .step({ slug: 'b', dependsOn: ['a'] }, ({ a }) => {
    type _a = Expect<Equal<typeof a, { n: number } | null>>;
    return a?.n ?? 0;
  });
type _maybeOutput = Expect<Equal<FlowOutput<typeof maybe>, { b: number }>>;

// Outputs typed through interfaces, optional properties, tuples, Json and any are accepted.
interface Page {
  url: string;
  title?: string;
  tags: readonly string[];
}
const accepted = new Flow<{ id: string }>({ slug: 'accepted' })
  .step({ slug: 'iface' }, async (): Promise<Page> => ({ url: 'u', tags: [] }))
  .step({ slug: 'tuple' }, () => [1, 'two', null, { three: true }] as const)
  .step({ slug: 'json' }, (): Json => ({ any: ['json', 1, null] }))
  .step({ slug: 'anything' }, (): any => JSON.parse('{}'))
  .step({ slug: 'sync_number' }, () => 42)
  .step({ slug: 'uses', dependsOn: ['iface', 'tuple', 'json'] }, ({ iface, tuple, json }) => {
    type _iface = Expect<Equal<typeof iface, Page>>;
    type _tuple = Expect<Equal<typeof tuple, readonly [1, 'two', null, { readonly three: true }]>>;
    type _json = Expect<Equal<typeof json, Json>>;
    return null;
  });
void accepted;

// Non-literal slugs are checked at run time only.
declare const dynamicSlug: string;
new Flow<{ a: number }>({ slug: 'dynamic' }).step({ slug: dynamicSlug }, () => 1);

// ---------------------------------------------------------------- compile-time errors

const base = new Flow<{ x: number }>({ slug: 'errors' }).step({ slug: 'first' }, () => 1);

// @ts-expect-error unknown dependency
base.step({ slug: 'second', dependsOn: ['frist'] }, () => 2);
// @ts-expect-error dependency on a step defined later (not yet known)
new Flow<{ x: number }>({ slug: 'order' }).step({ slug: 'a', dependsOn: ['b'] }, () => 1);
// @ts-expect-error duplicate step slug
base.step({ slug: 'first' }, () => 2);
// @ts-expect-error invalid slug (dash)
base.step({ slug: 'second-step' }, () => 2);
// @ts-expect-error invalid slug (leading digit)
base.step({ slug: '2nd' }, () => 2);
// @ts-expect-error invalid slug (leading underscore)
base.step({ slug: '_private' }, () => 2);
// @ts-expect-error invalid slug (empty)
base.step({ slug: '' }, () => 2);
// @ts-expect-error reserved slug
base.step({ slug: 'run' }, () => 2);
// @ts-expect-error the input does not have a property of a step that is not a dependency
base.step({ slug: 'second' }, (input) => input.first);
// @ts-expect-error run input property that does not exist
base.step({ slug: 'second' }, (input) => input.run.y);
// @ts-expect-error unknown option
base.step({ slug: 'second', retries: 3 }, () => 2);
// @ts-expect-error option of the wrong type
base.step({ slug: 'second', timeout: '10' }, () => 2);

// Outputs that are not JSON:
// @ts-expect-error a function
base.step({ slug: 'f' }, () => () => 1);
// @ts-expect-error a function inside an object
base.step({ slug: 'f' }, () => ({ callback: () => 1 }));
// @ts-expect-error a Date
base.step({ slug: 'f' }, async () => ({ when: new Date() }));
// @ts-expect-error a bigint
base.step({ slug: 'f' }, async () => 10n);
// @ts-expect-error a Map
base.step({ slug: 'f' }, () => new Map<string, number>());
// @ts-expect-error a symbol
base.step({ slug: 'f' }, () => ({ s: Symbol('x') }));
// @ts-expect-error undefined inside an array
base.step({ slug: 'f' }, () => [1, undefined]);
// @ts-expect-error unknown (declare a JSON type instead)
base.step({ slug: 'f' }, async (): Promise<unknown> => 1);
// @ts-expect-error a nested promise
base.step({ slug: 'f' }, () => ({ later: Promise.resolve(1) }));

// Flow options
// @ts-expect-error the flow needs a slug
new Flow<{ x: number }>({ maxAttempts: 3 });
// @ts-expect-error startDelay is a step option
new Flow<{ x: number }>({ slug: 'f', startDelay: 1 });

// ---------------------------------------------------------------- client

async function clientTypes() {
  const run = await startFlow(db, scrape, { url: 'https://example.com' });
  type _run = Expect<Equal<typeof run, FlowRun<typeof scrape>>>;
  type _runInput = Expect<Equal<typeof run.input, { url: string; depth?: number }>>;
  // @ts-expect-error wrong input
  await startFlow(db, scrape, { uri: 'https://example.com' });
  // @ts-expect-error missing input property
  await startFlow(db, scrape, {});

  const client = createClient({ connectionString: 'postgres://localhost/db' });
  const started = await client.startFlow(scrape, { url: 'x', depth: 2 });
  const output = await client.waitForRun(started.runId, { timeout: 1000 });
  type _waited = Expect<Equal<typeof output, { report: { count: number; title: string }; notify: null }>>;
  const untyped = await client.waitForRun('8a4c4c1e-6f0e-4a53-9c71-6d6a3f2b0e11');
  type _untyped = Expect<Equal<typeof untyped, Json>>;
  const direct = await client.runFlow(maybe, { n: 1 });
  type _direct = Expect<Equal<typeof direct, { b: number }>>;
  // @ts-expect-error wrong input
  await client.runFlow(maybe, { n: 'one' });

  const details = await getRun(db, started.runId);
  if (details) {
    type _detailsInput = Expect<Equal<typeof details.run.input, { url: string; depth?: number }>>;
    type _detailsOutput = Expect<Equal<typeof details.run.output, { report: { count: number; title: string }; notify: null } | null>>;
  }
  const id: RunId = started.runId;
  void id;

  const unsubscribe = await client.onEvent((event: PgflowEvent) => {
    if (event.type === 'step:failed') {
      const message: string | null = event.errorMessage;
      const step: string = event.stepSlug;
      void message;
      void step;
    }
    if (event.type === 'run:started') {
      // @ts-expect-error run events have no step slug
      void event.stepSlug;
    }
  }, { flow: scrape });
  await unsubscribe();
}
void clientTypes;

// ---------------------------------------------------------------- worker

async function workerTypes() {
  const worker = await startWorker({ connectionString: 'postgres://localhost/db', flows: [scrape, maybe], concurrency: 4 });
  const ids: Readonly<Record<string, string>> = worker.workerIds;
  void ids;
  await worker.stop({ gracePeriod: 1000 });
  // @ts-expect-error flows must be flows
  await startWorker({ connectionString: 'x', flows: [{ slug: 'not_a_flow' }] });
}
void workerTypes;
