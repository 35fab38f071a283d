/**
 * Type tests for the flow DSL, the worker options and the client, checked by
 * `tsc -p tsconfig.json` (never run). Each `@ts-expect-error` line holds
 * exactly one error; the `Equal` checks pin inferred types exactly.
 */
import type pg from 'pg';
import { createClient, getRun, startFlow, type FlowRun, type PgflowEvent, type RunId, type TypedRun } from '../../src/client/index.js';
import type { Json } from '../../src/core/types.js';
import { Flow, type FlowInput, type FlowOutput, type LeafSteps, type SkippableSteps, type StepContext, type StepOutput } from '../../src/flow/index.js';
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

  // Run control: the typed run comes back, or null when there is nothing to do.
  const keyed = await client.startFlow(scrape, { url: 'x' }, { idempotencyKey: 'scrape-x' });
  type _keyed = Expect<Equal<typeof keyed, FlowRun<typeof scrape>>>;
  const cancelled = await client.cancelRun(started.runId, 'no longer needed');
  if (cancelled) {
    type _cancelledInput = Expect<Equal<typeof cancelled.input, { url: string; depth?: number }>>;
  }
  type _cancelled = Expect<Equal<typeof cancelled, TypedRun<FlowOutput<typeof scrape>, FlowInput<typeof scrape>> | null>>;
  const retried = await client.retryRun('8a4c4c1e-6f0e-4a53-9c71-6d6a3f2b0e11');
  type _retried = Expect<Equal<typeof retried, TypedRun<Json, Json> | null>>;
  const paused = await client.pauseFlow(scrape);
  type _paused = Expect<Equal<typeof paused.pausedAt, Date | null>>;
  await client.resumeFlow('scrape');
  // @ts-expect-error a flow or its slug
  await client.pauseFlow(42);

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
    if (event.type === 'run:cancelled') {
      const reason: string | null = event.reason;
      const runId: string = event.runId;
      void reason;
      void runId;
    }
    if (event.type === 'flow:paused') {
      type _noRun = Expect<Equal<typeof event.runId, undefined>>;
      const since: Date = event.pausedAt;
      void since;
    }
    // Any event may be a flow event, without a run.
    type _anyRun = Expect<Equal<typeof event.runId, string | undefined>>;
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
  await startWorker({ connectionString: 'x', flows: [scrape], schedules: { catchUp: 3, refreshInterval: 10_000 } });
  // @ts-expect-error schedules takes true or its settings
  await startWorker({ connectionString: 'x', flows: [scrape], schedules: 'yes' });
}
void workerTypes;

// ---------------------------------------------------------------- map and array steps

// A root map: the run input is an array; the handler gets one element; the output is the array of results.
const rootMap = new Flow<{ id: number; name: string }[]>({ slug: 'root_map' })
  .map({ slug: 'label' }, (item, context) => {
    type _item = Expect<Equal<typeof item, { id: number; name: string }>>;
    const index: number = context.taskIndex;
    void index;
    return `${item.id}:${item.name}`;
  })
  .step({ slug: 'count', dependsOn: ['label'] }, (input) => {
    type _input = Expect<Equal<typeof input, { run: { id: number; name: string }[]; label: string[] }>>;
    return input.label.length;
  });
type _rootMapOutput = Expect<Equal<FlowOutput<typeof rootMap>, { count: number }>>;
type _rootMapInput = Expect<Equal<FlowInput<typeof rootMap>, { id: number; name: string }[]>>;

// .array() then a dependent map over it, then a map over the map; a handler that returns nothing gives null elements.
const fanOut = new Flow<{ urls: string[] }>({ slug: 'fan_out' })
  .array({ slug: 'list', maxAttempts: 2 }, ({ run }) => run.urls.map((url) => ({ url })))
  .map({ slug: 'fetch', array: 'list', timeout: 30 }, async ({ url }) => ({ url, size: url.length }))
  .map({ slug: 'sizes', array: 'fetch' }, (page) => {
    type _page = Expect<Equal<typeof page, { url: string; size: number }>>;
    return page.size;
  })
  .map({ slug: 'audit', array: 'list', dependsOn: ['list'] }, () => {});
type _fanOutSteps = Expect<
  Equal<StepOutput<typeof fanOut, 'fetch'>, { url: string; size: number }[]> &
    Equal<StepOutput<typeof fanOut, 'list'>, { url: string }[]> &
    Equal<StepOutput<typeof fanOut, 'audit'>, null[]>
>;
type _fanOutOutput = Expect<Equal<FlowOutput<typeof fanOut>, { sizes: number[]; audit: null[] }>>;
type _fanOutLeaves = Expect<Equal<LeafSteps<typeof fanOut>, 'sizes' | 'audit'>>;

// A map over a tuple or readonly array output (e.g. `as const`) gets the union of its elements.
new Flow<{ n: number }>({ slug: 'tuple_map' })
  .array({ slug: 'pair' }, () => ['a', 'b'] as const)
  .map({ slug: 'each', array: 'pair' }, (letter) => {
    type _letter = Expect<Equal<typeof letter, 'a' | 'b'>>;
    return letter.toUpperCase();
  });

// @ts-expect-error a root map needs an array run input
new Flow<{ urls: string[] }>({ slug: 'not_array' }).map({ slug: 'each' }, (item) => item);
// @ts-expect-error array must name a step whose output is an array
fanOut.step({ slug: 'total' }, () => 1).map({ slug: 'each', array: 'total' }, (item) => item);
// @ts-expect-error array must name a known step
fanOut.map({ slug: 'each', array: 'lst' }, (item) => item);
// @ts-expect-error a map depends only on the step named by array
fanOut.map({ slug: 'each', array: 'list', dependsOn: ['fetch'] }, (item) => item);
// @ts-expect-error a root map has no dependencies
rootMap.map({ slug: 'again', dependsOn: ['label'] }, (item) => item);
// @ts-expect-error the element type is checked
rootMap.map({ slug: 'again' }, (item) => item.missing);
// @ts-expect-error map handlers return JSON too
rootMap.map({ slug: 'again' }, () => new Date());
// @ts-expect-error duplicate slug
rootMap.map({ slug: 'label' }, (item) => item.id);
// @ts-expect-error .array() handlers must return an array
base.array({ slug: 'not_list' }, () => ({ items: [1] }));
// @ts-expect-error .array() handlers must not return undefined either
base.array({ slug: 'maybe_list' }, ({ run }) => (run.x > 0 ? [run.x] : undefined));

// ---------------------------------------------------------------- conditions

type Doc = { kind: 'pdf' | 'png'; pages: number; tags: string[]; draft?: boolean };
const conditional = new Flow<Doc>({ slug: 'conditional' })
  // A condition without whenUnmet skips alone: dependents see the key as optional.
  .step({ slug: 'ocr', if: { run: { kind: 'pdf' } } }, ({ run }) => ({ text: `${run.pages} pages` }))
  // whenUnmet 'fail': the step never runs without its condition, but it is never skipped either.
  .step({ slug: 'check', ifNot: { run: { draft: true } }, whenUnmet: 'fail' }, () => ({ ok: true }))
  // 'skip-cascade': its dependents are skipped with it, so they always see it.
  .step({ slug: 'thumbnail', if: { run: { kind: 'png', tags: ['photo'] } }, whenUnmet: 'skip-cascade' }, () => 'thumb.png')
  // retriesExhausted 'skip' without a condition also makes the step optional to its dependents.
  .step({ slug: 'enrich', retriesExhausted: 'skip', maxAttempts: 2 }, () => ({ score: 1 }))
  .step({ slug: 'publish', dependsOn: ['ocr', 'check', 'thumbnail', 'enrich'] }, (input) => {
    type _input = Expect<
      Equal<typeof input, { run: Doc; check: { ok: boolean }; thumbnail: string; ocr?: { text: string }; enrich?: { score: number } }>
    >;
    return input.ocr?.text ?? input.thumbnail;
  })
  // Patterns of dependent steps are checked against { run, <dep>: <output> }, optional keys included.
  .step({ slug: 'archive', dependsOn: ['check', 'ocr'], if: { check: { ok: true }, ocr: { text: 'x' } }, ifNot: { run: { pages: 0 } } }, () => null)
  // A step after a 'skip-cascade' step may be skipped with it: it is an optional key of the run output.
  .step({ slug: 'gallery', dependsOn: ['thumbnail'] }, ({ thumbnail }) => [thumbnail])
  // whenExhausted is pgflow 0.14's name for retriesExhausted.
  .step({ slug: 'cleanup', whenExhausted: 'skip' }, () => true)
  .step({ slug: 'summary', dependsOn: ['check', 'enrich'] }, ({ check, enrich }) => ({ ok: check.ok, score: enrich?.score ?? 0 }));

type _conditionalOutput = Expect<
  Equal<FlowOutput<typeof conditional>, { summary: { ok: boolean; score: number }; publish?: string; archive?: null; gallery?: string[]; cleanup?: boolean }>
>;
// publish and gallery depend on the 'skip-cascade' thumbnail step, so they may be skipped with it.
type _skippable = Expect<Equal<SkippableSteps<typeof conditional>, 'ocr' | 'thumbnail' | 'enrich' | 'publish' | 'archive' | 'gallery' | 'cleanup'>>;

// A map over a skippable step: skipped, it has no element (the map completes with []), so the map's element type stays.
const mapAfterSkip = new Flow<{ go: boolean }>({ slug: 'map_after_skip' })
  .array({ slug: 'list', if: { run: { go: true } } }, () => [1, 2])
  .map({ slug: 'double', array: 'list', ifNot: { list: [0] } }, (n) => {
    type _n = Expect<Equal<typeof n, number>>;
    return n * 2;
  })
  .map({ slug: 'flags', retriesExhausted: 'skip-cascade', array: 'double' }, (n) => n > 2);
type _mapAfterSkipOutput = Expect<Equal<FlowOutput<typeof mapAfterSkip>, { flags?: boolean[] }>>;

// Root map conditions see { run: <the array> }.
new Flow<string[]>({ slug: 'root_map_condition' }).map({ slug: 'each', if: { run: ['go'] } }, (text) => text.length);

// @ts-expect-error the pattern names a run input property that does not exist
base.step({ slug: 'second', if: { run: { y: 1 } } }, () => 2);
// @ts-expect-error a property the input lacks, next to one it has
base.step({ slug: 'second', if: { run: { x: 1, y: 1 } } }, () => 2);
// @ts-expect-error the pattern's value has the wrong type
base.step({ slug: 'second', ifNot: { run: { x: 'one' } } }, () => 2);
// @ts-expect-error patterns see only the step's own dependencies
base.step({ slug: 'second', if: { first: 1 } }, () => 2);
// @ts-expect-error whenUnmet needs if or ifNot
base.step({ slug: 'second', whenUnmet: 'fail' }, () => 2);
// @ts-expect-error unknown skip mode
base.step({ slug: 'second', if: { run: { x: 1 } }, whenUnmet: 'ignore' }, () => 2);
// @ts-expect-error unknown skip mode
base.step({ slug: 'second', retriesExhausted: 'retry' }, () => 2);
// @ts-expect-error a misspelt condition option
base.step({ slug: 'second', ifnot: { run: { x: 1 } } }, () => 2);
// @ts-expect-error map options are checked too
rootMap.map({ slug: 'again', if: { run: [{ id: 'one' }] } }, (item) => item.id);
// @ts-expect-error array is not an option of .step()
base.step({ slug: 'second', array: 'first' }, () => 2);

async function mapClientTypes() {
  // A root-map flow's runs take an array.
  const run = await startFlow(db, rootMap, [{ id: 1, name: 'a' }]);
  type _input = Expect<Equal<typeof run.input, { id: number; name: string }[]>>;
  // @ts-expect-error the elements are typed
  await startFlow(db, rootMap, [{ id: 'one', name: 'a' }]);
  const client = createClient({ connectionString: 'postgres://localhost/db' });
  const output = await client.runFlow(conditional, { kind: 'pdf', pages: 2, tags: [] });
  const summary: { ok: boolean; score: number } = output.summary;
  // @ts-expect-error a skippable leaf may be absent
  const gallery: string[] = output.gallery;
  void summary;
  void gallery;
}
void mapClientTypes;
