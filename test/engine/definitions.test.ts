/**
 * Flow definitions: pgflow.create_flow, pgflow.add_step (every call form of
 * DESIGN decision 3 and the SQL that @pgflow/dsl@0.8.1 compileFlow emits),
 * pgflow.is_valid_slug, and the validation errors, which leave nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/database.js';
import { errorOf, uniqueSlug } from './support.js';

const db = useTestDatabase();

interface FlowRow {
  flow_slug: string;
  opt_max_attempts: number;
  opt_base_delay: number;
  opt_timeout: number;
  created_at: Date;
}

interface StepRow {
  flow_slug: string;
  step_slug: string;
  step_type: string;
  step_index: number;
  deps_count: number;
  opt_max_attempts: number | null;
  opt_base_delay: number | null;
  opt_timeout: number | null;
  created_at: Date;
  opt_start_delay: number | null;
}

const flowRow = async (slug: string) => (await db.query<FlowRow>(`select * from pgflow.flows where flow_slug = $1`, [slug]))[0];
const stepRow = async (flow: string, step: string) =>
  (await db.query<StepRow>(`select * from pgflow.steps where flow_slug = $1 and step_slug = $2`, [flow, step]))[0];
const depsOf = async (flow: string, step: string) =>
  (await db.query<{ dep_slug: string }>(`select dep_slug from pgflow.deps where flow_slug = $1 and step_slug = $2 order by dep_slug`, [flow, step])).map(
    (row) => row.dep_slug,
  );
const counts = async (flow: string) =>
  (
    await db.query<{ steps: number; deps: number }>(
      `select (select count(*)::int from pgflow.steps where flow_slug = $1) as steps,
              (select count(*)::int from pgflow.deps where flow_slug = $1) as deps`,
      [flow],
    )
  )[0]!;
const queueExists = async (name: string) =>
  (await db.query<{ n: number }>(`select count(*)::int as n from pgmq.list_queues() where queue_name = $1`, [name]))[0]!.n === 1;

async function newFlow(prefix = 'f'): Promise<string> {
  const slug = uniqueSlug(prefix);
  await db.query(`select pgflow.create_flow($1)`, [slug]);
  return slug;
}

describe('pgflow.is_valid_slug', () => {
  it('accepts letters, digits and underscores starting with a letter or underscore, up to 128 characters, except "run"', async () => {
    const cases: [string | null, boolean][] = [
      ['a', true],
      ['_a', true],
      ['A1', true],
      ['Run', true],
      ['snake_case_9', true],
      ['a'.repeat(128), true],
      ['a'.repeat(129), false],
      ['run', false],
      ['', false],
      [null, false],
      ['a-b', false],
      ['1abc', false],
      ['has space', false],
      ['dot.ted', false],
      ['émoji', false],
    ];
    const rows = await db.query<{ slug: string | null; valid: boolean }>(
      `select s.slug, pgflow.is_valid_slug(s.slug) as valid from unnest($1::text[]) with ordinality as s(slug, ord) order by s.ord`,
      [cases.map(([slug]) => slug)],
    );
    expect(rows.map((row) => [row.slug, row.valid])).toEqual(cases);
  });
});

describe('pgflow.create_flow', () => {
  it('creates a flow with the defaults 3 / 5 / 60 and a queue named after it', async () => {
    const slug = uniqueSlug('defaults');
    const [row] = await db.query<FlowRow>(`select * from pgflow.create_flow($1)`, [slug]);
    expect(row).toMatchObject({ flow_slug: slug, opt_max_attempts: 3, opt_base_delay: 5, opt_timeout: 60 });
    expect(row!.created_at).toBeInstanceOf(Date);
    expect(await flowRow(slug)).toEqual(row);
    expect(await queueExists(slug)).toBe(true);
    // The queue is usable with pgmq's own API.
    expect(await db.query(`select * from pgmq.read($1, 30, 10)`, [slug])).toEqual([]);
  });

  it('takes the options positionally and by name (:= and =>), as the reference writes them', async () => {
    const positional = uniqueSlug('email_campaign');
    expect((await db.query<FlowRow>(`select * from pgflow.create_flow($1, 5, 10, 300)`, [positional]))[0]).toMatchObject({
      opt_max_attempts: 5,
      opt_base_delay: 10,
      opt_timeout: 300,
    });
    const named = uniqueSlug('etl_pipeline');
    expect(
      (await db.query<FlowRow>(`select * from pgflow.create_flow(flow_slug := $1, max_attempts := 3, base_delay := 5, timeout := 120)`, [named]))[0],
    ).toMatchObject({ opt_max_attempts: 3, opt_base_delay: 5, opt_timeout: 120 });
    const partial = uniqueSlug('my_flow');
    expect((await db.query<FlowRow>(`select * from pgflow.create_flow($1, max_attempts := 5, base_delay := 2)`, [partial]))[0]).toMatchObject({
      opt_max_attempts: 5,
      opt_base_delay: 2,
      opt_timeout: 60,
    });
    const timeoutOnly = uniqueSlug('my_flow');
    expect((await db.query<FlowRow>(`select * from pgflow.create_flow($1, timeout => 120)`, [timeoutOnly]))[0]).toMatchObject({
      opt_max_attempts: 3,
      opt_base_delay: 5,
      opt_timeout: 120,
    });
  });

  it('updates the options passed when called again, keeps the others, and changes nothing with the same options (decision 2)', async () => {
    const slug = uniqueSlug('upsert');
    const [created] = await db.query<FlowRow>(`select * from pgflow.create_flow($1)`, [slug]);
    const [updated] = await db.query<FlowRow>(`select * from pgflow.create_flow($1, max_attempts => 7)`, [slug]);
    expect(updated).toMatchObject({ flow_slug: slug, opt_max_attempts: 7, opt_base_delay: 5, opt_timeout: 60 });
    expect(await flowRow(slug)).toMatchObject({ opt_max_attempts: 7, opt_base_delay: 5, opt_timeout: 60 });

    const [again] = await db.query<FlowRow>(`select * from pgflow.create_flow($1, 2, 9, 30)`, [slug]);
    expect(again).toMatchObject({ opt_max_attempts: 2, opt_base_delay: 9, opt_timeout: 30 });

    // Without options, or with the same ones: nothing changes, and the stored row comes back.
    const [same] = await db.query<FlowRow>(`select * from pgflow.create_flow($1)`, [slug]);
    expect(same).toEqual(await flowRow(slug));
    expect(same).toMatchObject({ opt_max_attempts: 2, opt_base_delay: 9, opt_timeout: 30 });
    const [sameOptions] = await db.query<FlowRow>(`select * from pgflow.create_flow($1, 2, 9, 30)`, [slug]);
    expect(sameOptions).toEqual(same);
    expect(sameOptions!.created_at).toEqual(created!.created_at);
    expect((await db.query(`select 1 from pgflow.flows where flow_slug = $1`, [slug])).length).toBe(1);
  });

  it('accepts a 47-character slug and refuses a 48-character one with an error naming the 47-character limit (decision 4)', async () => {
    const ok = `f${'x'.repeat(46)}`;
    expect(ok).toHaveLength(47);
    await db.query(`select pgflow.create_flow($1)`, [ok]);
    expect(await queueExists(ok)).toBe(true);

    const tooLong = `g${'x'.repeat(47)}`;
    const error = await errorOf(() => db.query(`select pgflow.create_flow($1)`, [tooLong]));
    expect(error.message).toMatch(/47/);
    expect(error.message).toContain(tooLong);
    expect(error.code).toBe('22023');
    expect(await flowRow(tooLong)).toBeUndefined();
    expect(await queueExists(tooLong)).toBe(false);
  });

  it('refuses invalid and reserved slugs with an error naming the slug, creating nothing', async () => {
    for (const bad of ['bad-slug', '1starts_with_digit', 'has space', 'run', '']) {
      const error = await errorOf(() => db.query(`select pgflow.create_flow($1)`, [bad]));
      expect(error.code, bad).toBe('22023');
      expect(error.message, bad).toMatch(/slug/i);
      if (bad !== '') expect(error.message, bad).toContain(bad);
      expect(await flowRow(bad)).toBeUndefined();
      expect(await queueExists(bad)).toBe(false);
    }
    const nullSlug = await errorOf(() => db.query(`select pgflow.create_flow(null)`));
    expect(nullSlug.message).toMatch(/slug/i);
  });

  it('refuses negative max_attempts / base_delay and a timeout below 1 with an error naming the option', async () => {
    const slug = uniqueSlug('bad_options');
    for (const [call, option] of [
      [`select pgflow.create_flow($1, max_attempts => -1)`, 'max_attempts'],
      [`select pgflow.create_flow($1, base_delay => -1)`, 'base_delay'],
      [`select pgflow.create_flow($1, timeout => 0)`, 'timeout'],
      [`select pgflow.create_flow($1, timeout => -5)`, 'timeout'],
    ] as const) {
      const error = await errorOf(() => db.query(call, [slug]));
      expect(error.code, call).toBe('22023');
      expect(error.message, call).toContain(option);
    }
    expect(await flowRow(slug)).toBeUndefined();
    expect(await queueExists(slug)).toBe(false);

    // Zero attempts and zero delay are allowed.
    expect((await db.query<FlowRow>(`select * from pgflow.create_flow($1, 0, 0, 1)`, [slug]))[0]).toMatchObject({
      opt_max_attempts: 0,
      opt_base_delay: 0,
      opt_timeout: 1,
    });
  });

  it('refuses a bad option on an existing flow without changing it', async () => {
    const slug = uniqueSlug('keep');
    await db.query(`select pgflow.create_flow($1, 4, 6, 70)`, [slug]);
    await errorOf(() => db.query(`select pgflow.create_flow($1, max_attempts => 9, timeout => 0)`, [slug]));
    expect(await flowRow(slug)).toMatchObject({ opt_max_attempts: 4, opt_base_delay: 6, opt_timeout: 70 });
  });

  it('refuses a slug that differs from an existing flow only in letter case (their queues would clash)', async () => {
    const slug = uniqueSlug('CaseFlow');
    await db.query(`select pgflow.create_flow($1)`, [slug]);
    const error = await errorOf(() => db.query(`select pgflow.create_flow($1)`, [slug.toLowerCase()]));
    expect(error.code).toBe('23505');
    expect(error.message).toContain(slug.toLowerCase());
    expect(await flowRow(slug.toLowerCase())).toBeUndefined();
  });
});

describe('pgflow.add_step call forms (decision 3)', () => {
  it('add_step(f, s): a root step with no options', async () => {
    const flow = await newFlow();
    const [step] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'load_recipients')`, [flow]);
    expect(step).toMatchObject({
      flow_slug: flow,
      step_slug: 'load_recipients',
      step_type: 'single',
      step_index: 0,
      deps_count: 0,
      opt_max_attempts: null,
      opt_base_delay: null,
      opt_timeout: null,
      opt_start_delay: null,
    });
    expect(step!.created_at).toBeInstanceOf(Date);
    expect(await depsOf(flow, 'load_recipients')).toEqual([]);
  });

  it('add_step(f, s, ARRAY[...]): a step with dependencies, numbered after them', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'extract')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'transform_a', ARRAY['extract'])`, [flow]);
    await db.query(`select pgflow.add_step($1, 'transform_b', ARRAY['extract'])`, [flow]);
    const [merge] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'merge', ARRAY['transform_a', 'transform_b'])`, [flow]);
    expect(merge).toMatchObject({ step_slug: 'merge', step_index: 3, deps_count: 2, step_type: 'single' });
    expect(await depsOf(flow, 'merge')).toEqual(['transform_a', 'transform_b']);
    expect(await depsOf(flow, 'transform_a')).toEqual(['extract']);
    // The reference's definition query.
    const definition = await db.query(
      `SELECT s.step_slug, s.step_index, s.deps_count,
              array_agg(d.dep_slug ORDER BY d.dep_slug) AS dependencies
       FROM pgflow.steps s
       LEFT JOIN pgflow.deps d ON d.flow_slug = s.flow_slug AND d.step_slug = s.step_slug
       WHERE s.flow_slug = $1
       GROUP BY s.step_slug, s.step_index, s.deps_count
       ORDER BY s.step_index`,
      [flow],
    );
    expect(definition).toEqual([
      { step_slug: 'extract', step_index: 0, deps_count: 0, dependencies: [null] },
      { step_slug: 'transform_a', step_index: 1, deps_count: 1, dependencies: ['extract'] },
      { step_slug: 'transform_b', step_index: 2, deps_count: 1, dependencies: ['extract'] },
      { step_slug: 'merge', step_index: 3, deps_count: 2, dependencies: ['transform_a', 'transform_b'] },
    ]);
  });

  it("positional add_step('f', 's', 7, 2, 30): the no-dependency overload", async () => {
    const flow = await newFlow();
    const [step] = await db.query<StepRow>(`select * from pgflow.add_step('${flow}', 's', 7, 2, 30)`);
    expect(step).toMatchObject({ step_slug: 's', deps_count: 0, opt_max_attempts: 7, opt_base_delay: 2, opt_timeout: 30, opt_start_delay: null });
    const [short] = await db.query<StepRow>(`select * from pgflow.add_step('${flow}', 't', 4)`);
    expect(short).toMatchObject({ step_slug: 't', deps_count: 0, opt_max_attempts: 4, opt_base_delay: null, opt_timeout: null });
    // Driver parameters work once cast.
    const [cast] = await db.query<StepRow>(`select * from pgflow.add_step($1::text, $2::text, $3::int, $4::int, $5::int)`, [flow, 'u', 6, 1, 9]);
    expect(cast).toMatchObject({ step_slug: 'u', deps_count: 0, opt_max_attempts: 6, opt_base_delay: 1, opt_timeout: 9 });
    expect(await depsOf(flow, 's')).toEqual([]);
  });

  it('named options with dependencies (:= and =>)', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'load_recipients')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'validate_content')`, [flow]);
    const [send] = await db.query<StepRow>(
      `SELECT * FROM pgflow.add_step($1, 'send_emails', ARRAY['load_recipients', 'validate_content'], max_attempts := 5)`,
      [flow],
    );
    expect(send).toMatchObject({ deps_count: 2, opt_max_attempts: 5, opt_base_delay: null, opt_timeout: null });
    const [named] = await db.query<StepRow>(
      `select * from pgflow.add_step(flow_slug => $1, step_slug => 'report', deps_slugs => ARRAY['send_emails'], max_attempts => 2, base_delay => 3, timeout => 40)`,
      [flow],
    );
    expect(named).toMatchObject({ deps_count: 1, opt_max_attempts: 2, opt_base_delay: 3, opt_timeout: 40 });
    const [reference] = await db.query<StepRow>(
      `SELECT * FROM pgflow.add_step(flow_slug := $1, step_slug := 'transform', deps_slugs := ARRAY['load_recipients'])`,
      [flow],
    );
    expect(reference).toMatchObject({ deps_count: 1, opt_max_attempts: null });
    const [emptyDeps] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'lonely', deps_slugs => '{}'::text[], timeout => 5)`, [flow]);
    expect(emptyDeps).toMatchObject({ deps_count: 0, opt_timeout: 5 });
    expect(await depsOf(flow, 'send_emails')).toEqual(['load_recipients', 'validate_content']);
  });

  it('named options without dependencies, in every combination the reference shows', async () => {
    const flow = await newFlow();
    const [flaky] = await db.query<StepRow>(`SELECT * FROM pgflow.add_step($1, 'flaky_api_call', max_attempts := 10, base_delay := 1)`, [flow]);
    expect(flaky).toMatchObject({ deps_count: 0, opt_max_attempts: 10, opt_base_delay: 1, opt_timeout: null });
    const [long] = await db.query<StepRow>(`SELECT * FROM pgflow.add_step($1, 'long_step', timeout := 600)`, [flow]);
    expect(long).toMatchObject({ deps_count: 0, opt_max_attempts: null, opt_timeout: 600 });
    const [all] = await db.query<StepRow>(`select * from pgflow.add_step('${flow}', 'all_three', max_attempts := 1, base_delay := 2, timeout := 3)`);
    expect(all).toMatchObject({ deps_count: 0, opt_max_attempts: 1, opt_base_delay: 2, opt_timeout: 3 });
    const [arrow] = await db.query<StepRow>(`select * from pgflow.add_step('${flow}', 'arrow', max_attempts => 1, base_delay => 2, timeout => 3)`);
    expect(arrow).toMatchObject({ deps_count: 0, opt_max_attempts: 1, opt_base_delay: 2, opt_timeout: 3 });
    const [baseOnly] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'base_only', base_delay => 4)`, [flow]);
    expect(baseOnly).toMatchObject({ opt_base_delay: 4, opt_max_attempts: null });
  });

  it('start_delay and step_type => single', async () => {
    const flow = await newFlow();
    const [delayed] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'delayed', start_delay => 5)`, [flow]);
    expect(delayed).toMatchObject({ opt_start_delay: 5, deps_count: 0, step_type: 'single' });
    const [delayedDep] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'after', ARRAY['delayed'], start_delay := 2, timeout := 9)`, [flow]);
    expect(delayedDep).toMatchObject({ opt_start_delay: 2, opt_timeout: 9, deps_count: 1 });
    const [single] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'single_one', step_type => 'single')`, [flow]);
    expect(single).toMatchObject({ step_type: 'single', deps_count: 0 });
    const [singleDeps] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'single_two', ARRAY['single_one'], step_type => 'single')`, [flow]);
    expect(singleDeps).toMatchObject({ step_type: 'single', deps_count: 1 });
  });

  it("step_type => 'map': a root map, or a map over one dependency; more dependencies or another type are refused", async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'items')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'other')`, [flow]);
    const [root] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'each_input', step_type => 'map')`, [flow]);
    expect(root).toMatchObject({ step_type: 'map', deps_count: 0 });
    const [dependent] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'each_item', ARRAY['items'], step_type => 'map')`, [flow]);
    expect(dependent).toMatchObject({ step_type: 'map', deps_count: 1 });
    const twoDeps = await errorOf(() => db.query(`select pgflow.add_step($1, 'each_pair', ARRAY['items', 'other'], step_type => 'map')`, [flow]));
    expect(twoDeps.code).toBe('22023');
    expect(twoDeps.message).toBe('map step "each_pair" can depend on one step at most (it maps over that step\'s output), got 2 dependencies: items, other');
    expect(await stepRow(flow, 'each_pair')).toBeUndefined();
    const unknownType = await errorOf(() => db.query(`select pgflow.add_step($1, 'weird', step_type => 'fanout')`, [flow]));
    expect(unknownType.message).toBe(`invalid step_type "fanout" for step "weird": expected 'single' or 'map'`);
    // The type is part of the flow's shape: adding the step again with another type is refused.
    const retyped = await errorOf(() => db.query(`select pgflow.add_step($1, 'each_item', ARRAY['items'])`, [flow]));
    expect(retyped.message).toBe(`step "each_item" of flow "${flow}" already exists as a map step; it cannot become a single step`);
    await expect(db.query(`select pgflow.add_step($1, 'each_item', ARRAY['items'], step_type => 'map')`, [flow])).resolves.toHaveLength(1);
    expect(await counts(flow)).toEqual({ steps: 4, deps: 1 });
  });

  it('no call form fails as "function is not unique" (every form, by catalog resolution)', async () => {
    const flow = await newFlow();
    const calls = [
      `select pgflow.add_step('${flow}', 'a')`,
      `select pgflow.add_step('${flow}', 'b', ARRAY['a'])`,
      `select pgflow.add_step('${flow}', 'c', 7, 2, 30)`,
      `select pgflow.add_step('${flow}', 'd', 7)`,
      `select pgflow.add_step('${flow}', 'e', 7, 2)`,
      `select pgflow.add_step('${flow}', 'f', max_attempts := 1)`,
      `select pgflow.add_step('${flow}', 'g', base_delay := 1)`,
      `select pgflow.add_step('${flow}', 'h', timeout := 1)`,
      `select pgflow.add_step('${flow}', 'i', start_delay := 1)`,
      `select pgflow.add_step('${flow}', 'j', step_type := 'single')`,
      `select pgflow.add_step('${flow}', 'k', max_attempts := 1, base_delay := 2, timeout := 3)`,
      `select pgflow.add_step('${flow}', 'l', ARRAY['a', 'b'], max_attempts := 1, base_delay := 2, timeout := 3, start_delay := 4)`,
      `select pgflow.add_step('${flow}', 'm', ARRAY['a'], 3)`,
      `select pgflow.add_step('${flow}', 'n', ARRAY['a'], 3, 4, 5)`,
      `select pgflow.add_step('${flow}', 'o', ARRAY[]::text[])`,
      `select pgflow.add_step(flow_slug => '${flow}', step_slug => 'p')`,
      `select pgflow.add_step(flow_slug => '${flow}', step_slug => 'q', timeout => 5, max_attempts => 2)`,
      `select pgflow.add_step(step_slug => 'r', flow_slug => '${flow}', deps_slugs => ARRAY['q'])`,
    ];
    for (const call of calls) {
      await expect(db.query(call), call).resolves.toHaveLength(1);
    }
    expect((await counts(flow)).steps).toBe(calls.length);
    expect(await stepRow(flow, 'd')).toMatchObject({ opt_max_attempts: 7, opt_base_delay: null, opt_timeout: null, deps_count: 0 });
    expect(await stepRow(flow, 'e')).toMatchObject({ opt_max_attempts: 7, opt_base_delay: 2, opt_timeout: null });
    expect(await stepRow(flow, 'l')).toMatchObject({ opt_max_attempts: 1, opt_base_delay: 2, opt_timeout: 3, opt_start_delay: 4, deps_count: 2 });
    expect(await stepRow(flow, 'm')).toMatchObject({ opt_max_attempts: 3, deps_count: 1 });
    expect(await stepRow(flow, 'n')).toMatchObject({ opt_max_attempts: 3, opt_base_delay: 4, opt_timeout: 5, deps_count: 1 });
    expect(await stepRow(flow, 'r')).toMatchObject({ deps_count: 1 });
  });

  it('runs the exact SQL that @pgflow/dsl@0.8.1 compileFlow emits', async () => {
    const flow = uniqueSlug('compiled');
    const statements = [
      `SELECT pgflow.create_flow('${flow}', max_attempts => 3, base_delay => 1, timeout => 10);`,
      `SELECT pgflow.add_step('${flow}', 'a');`,
      `SELECT pgflow.add_step('${flow}', 'b', max_attempts => 2, timeout => 30);`,
      `SELECT pgflow.add_step('${flow}', 'c', start_delay => 3);`,
      `SELECT pgflow.add_step('${flow}', 's', ARRAY['a', 'b'], max_attempts => 3, base_delay => 1, timeout => 10, start_delay => 5);`,
      `SELECT pgflow.add_step('${flow}', 'tail', ARRAY['s']);`,
      `SELECT pgflow.add_step('${flow}', 'tail2', ARRAY['s', 'c'], base_delay => 4);`,
    ];
    for (const statement of statements) await db.query(statement);
    expect(await flowRow(flow)).toMatchObject({ opt_max_attempts: 3, opt_base_delay: 1, opt_timeout: 10 });
    const steps = await db.query<StepRow>(`select * from pgflow.steps where flow_slug = $1 order by step_index`, [flow]);
    expect(steps.map((s) => [s.step_slug, s.step_index, s.deps_count, s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay])).toEqual([
      ['a', 0, 0, null, null, null, null],
      ['b', 1, 0, 2, null, 30, null],
      ['c', 2, 0, null, null, null, 3],
      ['s', 3, 2, 3, 1, 10, 5],
      ['tail', 4, 1, null, null, null, null],
      ['tail2', 5, 2, null, 4, null, null],
    ]);
    expect(await depsOf(flow, 's')).toEqual(['a', 'b']);
    expect(await depsOf(flow, 'tail2')).toEqual(['c', 's']);
    // Running the compiled statements again (a redeploy) is a no-op.
    await db.query(statements.join('\n'));
    expect(await counts(flow)).toEqual({ steps: 6, deps: 5 });

    // A map step compiles to step_type => 'map'.
    await db.query(`SELECT pgflow.add_step('${flow}', 'each', ARRAY['a'], step_type => 'map');`);
    expect(await stepRow(flow, 'each')).toMatchObject({ step_type: 'map', deps_count: 1 });
    expect(await counts(flow)).toEqual({ steps: 7, deps: 6 });
  });
});

describe('pgflow.add_step validation', () => {
  it('an unknown flow: an error naming the flow', async () => {
    const error = await errorOf(() => db.query(`select pgflow.add_step('no_such_flow', 's')`));
    expect(error.code).toBe('42704');
    expect(error.message).toContain('no_such_flow');
    expect((await db.query(`select 1 from pgflow.steps where flow_slug = 'no_such_flow'`)).length).toBe(0);
  });

  it('an unknown dependency: an error naming it, and neither the step nor any dep row is created', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'a')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'b')`, [flow]);
    const error = await errorOf(() => db.query(`select pgflow.add_step($1, 'c', ARRAY['a', 'ghost', 'b'])`, [flow]));
    expect(error.code).toBe('42704');
    expect(error.message).toContain('ghost');
    expect(error.message).not.toMatch(/violates foreign key/);
    expect(await stepRow(flow, 'c')).toBeUndefined();
    expect(await counts(flow)).toEqual({ steps: 2, deps: 0 });
    // The flow is still usable and the step numbering has no gap.
    const [c] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'c', ARRAY['a', 'b'])`, [flow]);
    expect(c).toMatchObject({ step_index: 2, deps_count: 2 });
  });

  it('a step cannot depend on itself', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'a')`, [flow]);
    const error = await errorOf(() => db.query(`select pgflow.add_step($1, 'loop', ARRAY['a', 'loop'])`, [flow]));
    expect(error.message).toContain('loop');
    expect(error.message).toMatch(/itself|self/);
    expect(error.message).not.toMatch(/violates/);
    expect(await stepRow(flow, 'loop')).toBeUndefined();
    expect(await counts(flow)).toEqual({ steps: 1, deps: 0 });
  });

  it('invalid and reserved step slugs: an error naming the slug', async () => {
    const flow = await newFlow();
    for (const bad of ['run', 'bad-slug', '9lives', 'with space', 'x'.repeat(129)]) {
      const error = await errorOf(() => db.query(`select pgflow.add_step($1, $2)`, [flow, bad]));
      expect(error.code, bad).toBe('22023');
      expect(error.message, bad).toContain(bad);
      expect(error.message, bad).not.toMatch(/violates check constraint/);
    }
    expect((await counts(flow)).steps).toBe(0);
    // 128 characters is fine for a step (the 47-character limit is for flow slugs).
    const [long] = await db.query<StepRow>(`select * from pgflow.add_step($1, $2)`, [flow, 's'.repeat(128)]);
    expect(long!.step_slug).toHaveLength(128);
    // "Run" differs from the reserved "run".
    await db.query(`select pgflow.add_step($1, 'Run')`, [flow]);
  });

  it('negative options and a timeout below 1: an error naming the option, nothing created', async () => {
    const flow = await newFlow();
    for (const [call, option] of [
      [`select pgflow.add_step($1, 's', max_attempts => -1)`, 'max_attempts'],
      [`select pgflow.add_step($1, 's', base_delay => -1)`, 'base_delay'],
      [`select pgflow.add_step($1, 's', timeout => 0)`, 'timeout'],
      [`select pgflow.add_step($1, 's', start_delay => -1)`, 'start_delay'],
      [`select pgflow.add_step($1, 's', -1, 2, 3)`, 'max_attempts'],
      [`select pgflow.add_step($1, 's', 1, -2, 3)`, 'base_delay'],
      [`select pgflow.add_step($1, 's', 1, 2, -3)`, 'timeout'],
    ] as const) {
      const error = await errorOf(() => db.query(call, [flow]));
      expect(error.code, call).toBe('22023');
      expect(error.message, call).toContain(option);
    }
    expect((await counts(flow)).steps).toBe(0);
    const [zeros] = await db.query<StepRow>(`select * from pgflow.add_step($1, 's', max_attempts => 0, base_delay => 0, start_delay => 0)`, [flow]);
    expect(zeros).toMatchObject({ opt_max_attempts: 0, opt_base_delay: 0, opt_start_delay: 0 });
  });

  it('adding an identical step again is a no-op returning the stored step', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'a')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'b')`, [flow]);
    const [first] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'c', ARRAY['a', 'b'], max_attempts => 4)`, [flow]);
    const [again] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'c', ARRAY['a', 'b'], max_attempts => 4)`, [flow]);
    expect(again).toEqual(first);
    // Dependencies in another order are the same dependencies.
    const [reordered] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'c', ARRAY['b', 'a'])`, [flow]);
    expect(reordered).toMatchObject({ step_index: first!.step_index, deps_count: 2, opt_max_attempts: 4 });
    const [root] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'a')`, [flow]);
    expect(root).toMatchObject({ step_index: 0, deps_count: 0 });
    expect(await counts(flow)).toEqual({ steps: 3, deps: 2 });
    expect(await stepRow(flow, 'c')).toEqual(first);
  });

  it('re-adding an existing step with options updates those options (identical shape)', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'a', timeout => 10)`, [flow]);
    const [updated] = await db.query<StepRow>(`select * from pgflow.add_step($1, 'a', max_attempts => 6)`, [flow]);
    expect(updated).toMatchObject({ step_index: 0, opt_max_attempts: 6, opt_timeout: 10 });
    expect(await stepRow(flow, 'a')).toMatchObject({ opt_max_attempts: 6, opt_timeout: 10 });
  });

  it('re-adding a step with other dependencies is an error naming the step, and changes nothing', async () => {
    const flow = await newFlow();
    await db.query(`select pgflow.add_step($1, 'a')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'b')`, [flow]);
    await db.query(`select pgflow.add_step($1, 'c', ARRAY['a'])`, [flow]);
    for (const deps of [['a', 'b'], ['b'], []]) {
      const error = await errorOf(() => db.query(`select pgflow.add_step($1, 'c', $2::text[])`, [flow, deps]));
      expect(error.message, deps.join()).toContain('"c"');
      expect(error.message, deps.join()).toMatch(/depend/);
    }
    const rootError = await errorOf(() => db.query(`select pgflow.add_step($1, 'a', ARRAY['b'])`, [flow]));
    expect(rootError.message).toContain('"a"');
    expect(await depsOf(flow, 'c')).toEqual(['a']);
    expect(await depsOf(flow, 'a')).toEqual([]);
    expect(await stepRow(flow, 'c')).toMatchObject({ deps_count: 1 });
    expect(await counts(flow)).toEqual({ steps: 3, deps: 1 });
  });
});
