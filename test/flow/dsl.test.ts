/**
 * The flow DSL at run time: the definition it records, the validation errors
 * for definitions TypeScript cannot see (non-literal slugs, plain JavaScript),
 * the JSON check applied to outputs, and collectFlows.
 */
import { describe, expect, it } from 'vitest';
import { assertJsonSerialisable, collectFlows, Flow, FlowDefinitionError, JsonValueError } from '../../src/flow/index.js';

/** Calls the builder the way untyped code would. */
type UntypedFlow = { step(options: unknown, handler: unknown): UntypedFlow; array(options: unknown, handler: unknown): UntypedFlow; map(options: unknown, handler: unknown): UntypedFlow };
const untyped = (flow: unknown) => flow as UntypedFlow;

describe('Flow definitions', () => {
  it('records slug, options and steps in definition order, and leaves the original flow unchanged', () => {
    const base = new Flow<{ n: number }>({ slug: 'numbers', maxAttempts: 4, timeout: 30 });
    const one = base.step({ slug: 'double' }, ({ run }) => run.n * 2);
    const two = one.step({ slug: 'square', dependsOn: ['double'], baseDelay: 2, startDelay: 5 }, ({ double }) => double * double);

    expect(base.steps).toEqual([]);
    expect(one.steps.map((step) => step.slug)).toEqual(['double']);
    expect(two.slug).toBe('numbers');
    expect(two.options).toEqual({ maxAttempts: 4, timeout: 30 });
    expect(two.steps.map(({ slug, dependsOn, options }) => ({ slug, dependsOn, options }))).toEqual([
      { slug: 'double', dependsOn: [], options: {} },
      { slug: 'square', dependsOn: ['double'], options: { baseDelay: 2, startDelay: 5 } },
    ]);
    expect(two.leafSteps).toEqual(['square']);
    expect(Object.isFrozen(two.steps)).toBe(true);
    expect(Flow.isFlow(two)).toBe(true);
    expect(Flow.isFlow({ slug: 'numbers', steps: [] })).toBe(false);
  });

  it('runs handlers with the input they are given', async () => {
    const flow = new Flow<{ n: number }>({ slug: 'run_handler' }).step({ slug: 'double' }, ({ run }) => run.n * 2);
    const handler = flow.getStep('double')!.handler;
    expect(await handler({ run: { n: 21 } }, {} as never)).toBe(42);
  });

  it.each([
    ['a dash', 'my-flow', /invalid flow slug "my-flow": must start with a letter/],
    ['a leading digit', '1flow', /must start with a letter/],
    ['a leading underscore', '_flow', /must start with a letter/],
    ['an empty slug', '', /must not be empty/],
    ['the reserved "run"', 'run', /reserved/],
    ['48 characters', 'f'.repeat(48), /48 characters long; flow slugs have at most 47/],
    ['a number', 42, /must be a string \(got number\)/],
  ])('refuses a flow slug with %s', (_what, slug, message) => {
    expect(() => new Flow({ slug: slug as string })).toThrow(FlowDefinitionError);
    expect(() => new Flow({ slug: slug as string })).toThrow(message);
  });

  it('accepts a 47-character flow slug and a 128-character step slug, refuses 129', () => {
    const flow = new Flow({ slug: 'f'.repeat(47) });
    expect(flow.step({ slug: 's'.repeat(128) }, () => 1).steps).toHaveLength(1);
    expect(() => flow.step({ slug: 's'.repeat(129) as string }, () => 1)).toThrow(/129 characters long; step slugs have at most 128/);
  });

  it.each([
    ['a negative maxAttempts', { maxAttempts: -1 }, /maxAttempts must be a whole number of at least 0 \(got -1\)/],
    ['a fractional maxAttempts', { maxAttempts: 0.5 }, /maxAttempts must be a whole number of at least 0 \(got 0.5\)/],
    ['a fractional timeout', { timeout: 1.5 }, /timeout must be a whole number of at least 1 \(got 1.5\)/],
    ['timeout 0', { timeout: 0 }, /timeout must be a whole number of at least 1/],
    ['a negative baseDelay', { baseDelay: -1 }, /baseDelay must be a whole number of at least 0/],
    ['a string option', { maxAttempts: '3' }, /maxAttempts must be a whole number of at least 0 \(got "3"\)/],
    ['an unknown option', { retries: 3 }, /unknown option "retries" \(known: slug, maxAttempts, baseDelay, timeout\)/],
  ])('refuses flow options with %s', (_what, options, message) => {
    expect(() => new Flow({ slug: 'opts', ...(options as object) })).toThrow(message);
  });

  it('accepts baseDelay 0 and leaves unset options out', () => {
    expect(new Flow({ slug: 'zero', baseDelay: 0 }).options).toEqual({ baseDelay: 0 });
  });

  it('accepts maxAttempts 0 (one attempt, as the engine reads it) on flows and steps, and refuses a negative one on steps', () => {
    const flow = new Flow({ slug: 'once', maxAttempts: 0 }).step({ slug: 'a', maxAttempts: 0 }, () => [1, 2]).map({ slug: 'b', array: 'a', maxAttempts: 0 }, (n) => n);
    expect(flow.options).toEqual({ maxAttempts: 0 });
    expect(flow.steps.map((step) => step.options)).toEqual([{ maxAttempts: 0 }, { maxAttempts: 0 }]);
    expect(() => untyped(flow).step({ slug: 'c', maxAttempts: -1 }, () => 1)).toThrow('flow "once", step "c": maxAttempts must be a whole number of at least 0 (got -1)');
  });

  describe('steps defined without literal types', () => {
    const flow = new Flow<{ x: number }>({ slug: 'checks' }).step({ slug: 'first' }, () => 1);
    const slug = (value: string) => value;

    it('refuses a duplicate slug', () => {
      expect(() => flow.step({ slug: slug('first') }, () => 2)).toThrow('flow "checks", step "first": a step with this slug is already defined');
    });

    it('refuses an unknown dependency and names the known steps', () => {
      expect(() => untyped(flow).step({ slug: 'second', dependsOn: ['frist'] }, () => 2)).toThrow(
        'flow "checks", step "second": depends on unknown step "frist"; steps defined so far: "first"',
      );
    });

    it('refuses a self-dependency, a repeated dependency and a non-array dependsOn', () => {
      expect(() => untyped(flow).step({ slug: 'second', dependsOn: ['second'] }, () => 2)).toThrow('a step cannot depend on itself');
      expect(() => untyped(flow).step({ slug: 'second', dependsOn: ['first', 'first'] }, () => 2)).toThrow('dependsOn lists "first" more than once');
      expect(() => untyped(flow).step({ slug: 'second', dependsOn: 'first' }, () => 2)).toThrow('dependsOn must be an array of step slugs');
    });

    it('refuses invalid and reserved slugs', () => {
      expect(() => flow.step({ slug: slug('second-step') }, () => 2)).toThrow('invalid step slug "second-step": must start with a letter');
      expect(() => flow.step({ slug: slug('run') }, () => 2)).toThrow('invalid step slug "run": is reserved');
      expect(() => untyped(flow).step({}, () => 2)).toThrow('invalid step slug undefined: must be a string (got undefined)');
    });

    it('refuses a missing handler, bad options and unknown options', () => {
      expect(() => untyped(flow).step({ slug: 'second' }, undefined)).toThrow('the handler must be a function');
      expect(() => untyped(flow).step({ slug: 'second', startDelay: -1 }, () => 2)).toThrow('startDelay must be a whole number of at least 0');
      expect(() => untyped(flow).step({ slug: 'second', dependOn: ['first'] }, () => 2)).toThrow('unknown option "dependOn"');
    });
  });
});

describe('map and array steps', () => {
  const flow = new Flow<{ urls: string[] }>({ slug: 'pages' }).array({ slug: 'list', timeout: 5 }, ({ run }) => run.urls).step({ slug: 'count' }, () => 3);

  it('records the kind and the engine step type: .array() is a single step, .map() a map over its array step or the run input', () => {
    const mapped = flow.map({ slug: 'fetch', array: 'list', maxAttempts: 2 }, (url) => url.length).map({ slug: 'again', array: 'fetch', dependsOn: ['fetch'] }, (n) => n + 1);
    expect(mapped.steps.map(({ slug, kind, stepType, dependsOn, options, condition }) => ({ slug, kind, stepType, dependsOn, options, condition }))).toEqual([
      { slug: 'list', kind: 'array', stepType: 'single', dependsOn: [], options: { timeout: 5 }, condition: {} },
      { slug: 'count', kind: 'step', stepType: 'single', dependsOn: [], options: {}, condition: {} },
      { slug: 'fetch', kind: 'map', stepType: 'map', dependsOn: ['list'], options: { maxAttempts: 2 }, condition: {} },
      { slug: 'again', kind: 'map', stepType: 'map', dependsOn: ['fetch'], options: {}, condition: {} },
    ]);
    expect(mapped.leafSteps).toEqual(['count', 'again']);
    const root = new Flow<number[]>({ slug: 'numbers' }).map({ slug: 'double' }, (n) => n * 2);
    expect(root.steps[0]).toMatchObject({ slug: 'double', kind: 'map', stepType: 'map', dependsOn: [] });
  });

  it('runs a map handler with one element', async () => {
    const mapped = flow.map({ slug: 'fetch', array: 'list' }, (url, context) => `${url}#${context.taskIndex}`);
    expect(await mapped.getStep('fetch')!.handler('a', { taskIndex: 4 } as never)).toBe('a#4');
  });

  it.each([
    ['array naming an unknown step', { slug: 'm', array: 'lst' }, 'flow "pages", map step "m": array names unknown step "lst"; steps defined so far: "list", "count"'],
    ['array naming itself', { slug: 'm', array: 'm' }, 'flow "pages", map step "m": a step cannot depend on itself'],
    ['array that is not a slug', { slug: 'm', array: ['list'] }, 'array must be the slug of the step whose output the map step maps over'],
    ['two dependencies', { slug: 'm', array: 'list', dependsOn: ['list', 'count'] }, 'a map step depends on one step at most, the one named by array ("list"); dependsOn lists "list", "count"'],
    ['array not in dependsOn', { slug: 'm', array: 'list', dependsOn: ['count'] }, 'array names "list" but dependsOn lists "count"; a map step depends only on the step whose array it maps'],
    ['array with an empty dependsOn', { slug: 'm', array: 'list', dependsOn: [] }, 'array names "list" but dependsOn is empty'],
    ['dependsOn without array', { slug: 'm', dependsOn: ['list'] }, 'a map step maps over the array of the one step it depends on; name it with array: "list"'],
    ['an unknown option', { slug: 'm', array: 'list', arrays: 'list' }, 'unknown option "arrays" (known: slug, array, dependsOn, maxAttempts'],
    ['a bad runtime option', { slug: 'm', timeout: 0 }, 'flow "pages", map step "m": timeout must be a whole number of at least 1'],
  ])('refuses a map step with %s', (_what, options, message) => {
    expect(() => untyped(flow).map(options, () => 1)).toThrow(FlowDefinitionError);
    expect(() => untyped(flow).map(options, () => 1)).toThrow(message);
  });

  it('refuses array as an option of .step() and .array(), and a .array() step without a handler', () => {
    expect(() => untyped(flow).step({ slug: 's', array: 'list' }, () => 1)).toThrow('flow "pages", step "s": unknown option "array"');
    expect(() => untyped(flow).array({ slug: 's', array: 'list' }, () => [])).toThrow('flow "pages", array step "s": unknown option "array"');
    expect(() => untyped(flow).array({ slug: 's' }, 'not a function')).toThrow('flow "pages", array step "s": the handler must be a function');
  });
});

describe('step conditions', () => {
  const flow = new Flow<{ kind: string; n: number }>({ slug: 'conditions' }).step({ slug: 'first' }, () => 1);

  it('records the patterns (as the JSON the database stores) and the modes; retriesExhausted and whenExhausted are the same option', () => {
    const next = flow
      .step({ slug: 'a', if: { run: { kind: 'pdf' } }, ifNot: { run: { n: 0 } }, whenUnmet: 'skip-cascade', retriesExhausted: 'skip' }, () => 1)
      .step({ slug: 'b', dependsOn: ['first'], ifNot: { first: 2 } }, () => 1)
      .map({ slug: 'c', if: { run: { kind: 'x' } }, whenUnmet: 'fail', whenExhausted: 'skip-cascade' } as never, () => 1);
    expect(next.steps.map((step) => step.condition)).toEqual([
      {},
      { requiredInputPattern: { run: { kind: 'pdf' } }, forbiddenInputPattern: { run: { n: 0 } }, whenUnmet: 'skip-cascade', whenExhausted: 'skip' },
      { forbiddenInputPattern: { first: 2 } },
      { requiredInputPattern: { run: { kind: 'x' } }, whenUnmet: 'fail', whenExhausted: 'skip-cascade' },
    ]);
    const pattern = { run: { kind: 'pdf', n: undefined } };
    const copied = flow.step({ slug: 'd', if: pattern }, () => 1).getStep('d')!;
    expect(copied.condition.requiredInputPattern).toEqual({ run: { kind: 'pdf' } });
    pattern.run.kind = 'changed';
    expect(copied.condition.requiredInputPattern).toEqual({ run: { kind: 'pdf' } });
    expect(Object.isFrozen(copied.condition)).toBe(true);
  });

  it.each([
    ['an array pattern', { if: [1] }, 'if must be a JSON object pattern such as { run: { kind: \'pdf\' } } (got an array)'],
    ['a null pattern', { ifNot: null }, 'ifNot must be a JSON object pattern such as { run: { kind: \'pdf\' } } (got null)'],
    ['a string pattern', { if: 'run.kind = pdf' }, 'if must be a JSON object pattern such as { run: { kind: \'pdf\' } } (got string)'],
    ['a pattern holding a Date', { if: { run: { when: new Date(0) } } }, 'the if pattern is not JSON-serialisable: $.run.when is a Date'],
    ['a class instance as the pattern', { if: new Map() }, 'if must be a JSON object pattern'],
    ['an unknown whenUnmet', { if: { run: {} }, whenUnmet: 'ignore' }, `whenUnmet must be 'fail', 'skip', 'skip-cascade' (got "ignore")`],
    ['an unknown retriesExhausted', { retriesExhausted: 'retry' }, `retriesExhausted must be 'fail', 'skip', 'skip-cascade' (got "retry")`],
    ['an unknown whenExhausted', { whenExhausted: true }, `whenExhausted must be 'fail', 'skip', 'skip-cascade' (got true)`],
    ['whenUnmet without a condition', { whenUnmet: 'fail' }, 'whenUnmet applies only to a step with if or ifNot (it says what happens when they do not hold)'],
    ['both retriesExhausted and whenExhausted', { retriesExhausted: 'skip', whenExhausted: 'skip' }, 'give retriesExhausted or whenExhausted (the same option under pgflow 0.14\'s name), not both'],
    ['a misspelt option', { ifnot: { run: {} } }, 'unknown option "ifnot"'],
  ])('refuses %s', (_what, options, message) => {
    for (const method of ['step', 'array', 'map'] as const) {
      const define = () => untyped(new Flow<number[]>({ slug: 'conditions' }))[method]({ slug: 'second', ...options }, () => []);
      expect(define).toThrow(FlowDefinitionError);
      expect(define).toThrow(message);
    }
  });
});

describe('the JSON check of outputs', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = { back: cyclic };
  const shared = { same: true };

  it.each([
    ['null', null],
    ['a string', 'text'],
    ['a number', 1.5],
    ['a boolean', false],
    ['nested arrays and objects', { list: [1, 'two', null, { deep: [true] }], nested: { a: { b: 'c' } } }],
    ['undefined properties (omitted, like optional ones)', { present: 1, absent: undefined }],
    ['a top-level undefined (stored as null)', undefined],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['the same object twice (not a cycle)', { a: shared, b: shared }],
  ])('accepts %s', (_what, value) => {
    expect(() => assertJsonSerialisable(value)).not.toThrow();
  });

  it.each([
    ['a function', { callback: () => 1 }, '$.callback is a function'],
    ['a bigint', { big: 10n }, '$.big is a bigint'],
    ['a symbol', [Symbol('s')], '$[0] is a symbol'],
    ['NaN', { ratio: Number.NaN }, '$.ratio is NaN, which JSON stores as null'],
    ['Infinity', [Number.POSITIVE_INFINITY], '$[0] is Infinity'],
    ['undefined inside an array', [1, undefined], '$[1] is undefined inside an array'],
    ['a Date', { when: new Date(0) }, '$.when is a Date, which would arrive as a string; return date.toISOString()'],
    ['a Map', { map: new Map() }, '$.map is a Map'],
    ['a class instance', { point: new Point(1, 2) }, '$.point is a Point instance; return plain objects and arrays'],
    ['a cycle', cyclic, '$.self.back is a circular reference'],
    ['a NUL character', { text: 'a\u0000b' }, '$.text contains a NUL character'],
    ['an awkward key', { 'two words': () => 1 }, '$["two words"] is a function'],
  ])('refuses %s and names where it is', (_what, value, message) => {
    expect(() => assertJsonSerialisable(value, 'the output of step "s"')).toThrow(JsonValueError);
    expect(() => assertJsonSerialisable(value, 'the output of step "s"')).toThrow(`the output of step "s" is not JSON-serialisable: ${message}`);
  });
});

describe('collectFlows', () => {
  const a = new Flow({ slug: 'collect_a' });
  const b = new Flow({ slug: 'collect_b' });

  it('finds flows among named and default exports, arrays and plain objects, once each', () => {
    const found = collectFlows({ default: a, a, list: [b, 'x'], grouped: { b }, other: 42 });
    expect(found.map((flow) => flow.slug)).toEqual(['collect_a', 'collect_b']);
  });

  it('refuses two different flows with the same slug', () => {
    expect(() => collectFlows({ a, copy: new Flow({ slug: 'collect_a' }) })).toThrow('two different flows with slug "collect_a" are exported (copy)');
  });
});
