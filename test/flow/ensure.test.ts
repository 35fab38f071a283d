/**
 * ensureFlow: creates an absent flow, leaves a matching one alone, refuses a
 * differing one with a diff that names every difference — options, shape,
 * step types and conditions — (and changes nothing), and with
 * `recreate: true` replaces it together with its runs.
 */
import { describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { compileFlow, diffFlow, ensureFlow, Flow, FlowDriftError, readFlowDefinition } from '../../src/flow/index.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

function shop(slug: string, timeout?: number) {
  return new Flow<{ order: string }>({ slug, maxAttempts: 2, ...(timeout === undefined ? {} : { timeout }) })
    .step({ slug: 'reserve' }, () => 1)
    .step({ slug: 'charge', dependsOn: ['reserve'], maxAttempts: 5 }, () => 2)
    .step({ slug: 'ship', dependsOn: ['charge'], startDelay: 3 }, () => 3);
}

async function errorOf(promise: Promise<unknown>): Promise<FlowDriftError> {
  try {
    await promise;
  } catch (error) {
    return error as FlowDriftError;
  }
  throw new Error('expected ensureFlow to fail');
}

const stepRows = (slug: string) =>
  db.query(`select step_slug, opt_max_attempts, opt_start_delay from pgflow.steps where flow_slug = $1 order by step_index`, [slug]);

describe('ensureFlow', () => {
  it('creates an absent flow, then finds it unchanged', async () => {
    expect(await ensureFlow(db.pool, shop('shop_create'))).toEqual({ status: 'created', differences: [] });
    const stored = await readFlowDefinition(db.pool, 'shop_create');
    expect(stored).toEqual({
      slug: 'shop_create',
      options: { maxAttempts: 2, baseDelay: 5, timeout: 60 },
      steps: [
        { slug: 'reserve', stepType: 'single', stepIndex: 0, dependsOn: [], options: { maxAttempts: null, baseDelay: null, timeout: null, startDelay: null }, condition: { requiredInputPattern: null, forbiddenInputPattern: null, whenUnmet: 'skip', whenExhausted: 'fail' } },
        { slug: 'charge', stepType: 'single', stepIndex: 1, dependsOn: ['reserve'], options: { maxAttempts: 5, baseDelay: null, timeout: null, startDelay: null }, condition: { requiredInputPattern: null, forbiddenInputPattern: null, whenUnmet: 'skip', whenExhausted: 'fail' } },
        { slug: 'ship', stepType: 'single', stepIndex: 2, dependsOn: ['charge'], options: { maxAttempts: null, baseDelay: null, timeout: null, startDelay: 3 }, condition: { requiredInputPattern: null, forbiddenInputPattern: null, whenUnmet: 'skip', whenExhausted: 'fail' } },
      ],
    });
    expect(await ensureFlow(db.pool, shop('shop_create'))).toEqual({ status: 'unchanged', differences: [] });
    // Explicitly passing the default value is the same definition.
    expect(await ensureFlow(db.pool, shop('shop_create', 60))).toEqual({ status: 'unchanged', differences: [] });
  });

  it('finds a flow created from compiled SQL unchanged', async () => {
    for (const statement of compileFlow(shop('shop_compiled'))) await db.query(statement);
    expect((await ensureFlow(db.pool, shop('shop_compiled'))).status).toBe('unchanged');
  });

  it('takes maxAttempts 0 on both sides: compiled as max_attempts => 0, stored as 0, and found unchanged', async () => {
    const once = new Flow<{ order: string }>({ slug: 'shop_once', maxAttempts: 0 }).step({ slug: 'charge', maxAttempts: 0 }, () => 1);
    expect(compileFlow(once)).toEqual([
      `SELECT pgflow.create_flow('shop_once', max_attempts => 0);`,
      `SELECT pgflow.add_step('shop_once', 'charge', max_attempts => 0);`,
    ]);
    for (const statement of compileFlow(once)) await db.query(statement);
    expect(await db.query(`select opt_max_attempts from pgflow.flows where flow_slug = 'shop_once'`)).toEqual([{ opt_max_attempts: 0 }]);
    expect(await stepRows('shop_once')).toEqual([{ step_slug: 'charge', opt_max_attempts: 0, opt_start_delay: null }]);
    expect(await ensureFlow(db.pool, once)).toEqual({ status: 'unchanged', differences: [] });
    // 0 is not 1 for the comparison: the stored value is what the code said.
    const differences = diffFlow(new Flow<{ order: string }>({ slug: 'shop_once', maxAttempts: 1 }).step({ slug: 'charge', maxAttempts: 0 }, () => 1), (await readFlowDefinition(db.pool, 'shop_once'))!);
    expect(differences).toEqual([{ subject: 'flow maxAttempts', database: '0', code: '1' }]);
  });

  it('returns null for a flow that does not exist', async () => {
    expect(await readFlowDefinition(db.pool, 'no_such_flow')).toBeNull();
  });

  it('refuses a flow whose options differ, naming each difference, and changes nothing', async () => {
    await ensureFlow(db.pool, shop('shop_options'));
    const changed = new Flow<{ order: string }>({ slug: 'shop_options', maxAttempts: 2, timeout: 30 })
      .step({ slug: 'reserve', timeout: 5 }, () => 1)
      .step({ slug: 'charge', dependsOn: ['reserve'] }, () => 2)
      .step({ slug: 'ship', dependsOn: ['charge'], startDelay: 3 }, () => 3);
    const error = await errorOf(ensureFlow(db.pool, changed));
    expect(error).toBeInstanceOf(FlowDriftError);
    expect(error.flowSlug).toBe('shop_options');
    expect(error.differences).toEqual([
      { subject: 'flow timeout', database: '60', code: '30' },
      { subject: 'step "reserve" timeout', database: 'not set (flow value)', code: '5' },
      { subject: 'step "charge" maxAttempts', database: '5', code: 'not set (flow value)' },
    ]);
    expect(error.message).toContain('flow "shop_options" in the database differs from its definition in code:\n  - flow timeout: database 60, code 30\n');
    expect(error.message).toContain('pass { recreate: true }');
    expect((await readFlowDefinition(db.pool, 'shop_options'))?.options.timeout).toBe(60);
  });

  it('counts an option missing in code as the engine default', async () => {
    await pgflowSql(db.pool).createFlow('shop_default', { maxAttempts: 2, timeout: 30 });
    const flow = new Flow({ slug: 'shop_default', maxAttempts: 2 });
    expect(diffFlow(flow, (await readFlowDefinition(db.pool, 'shop_default'))!)).toEqual([{ subject: 'flow timeout', database: '30', code: '60 (default)' }]);
  });

  it('refuses added, removed and rewired steps', async () => {
    await ensureFlow(db.pool, shop('shop_shape'));
    const reshaped = new Flow<{ order: string }>({ slug: 'shop_shape', maxAttempts: 2 })
      .step({ slug: 'reserve' }, () => 1)
      .step({ slug: 'charge', dependsOn: ['reserve'], maxAttempts: 5 }, () => 2)
      .step({ slug: 'invoice', dependsOn: ['reserve', 'charge'] }, () => 3);
    const error = await errorOf(ensureFlow(db.pool, reshaped));
    expect(error.differences).toEqual([
      { subject: 'step "invoice"', database: 'missing', code: 'defined (dependsOn [reserve, charge])' },
      { subject: 'step "ship"', database: 'defined (dependsOn [charge])', code: 'missing' },
    ]);
    const rewired = new Flow<{ order: string }>({ slug: 'shop_shape', maxAttempts: 2 })
      .step({ slug: 'reserve' }, () => 1)
      .step({ slug: 'charge', maxAttempts: 5 }, () => 2)
      .step({ slug: 'ship', dependsOn: ['charge', 'reserve'], startDelay: 3 }, () => 3);
    expect((await errorOf(ensureFlow(db.pool, rewired))).differences).toEqual([
      { subject: 'step "charge" dependencies', database: '[reserve]', code: '[]' },
      { subject: 'step "ship" dependencies', database: '[charge]', code: '[charge, reserve]' },
    ]);
    expect((await stepRows('shop_shape')).map((row) => row.step_slug)).toEqual(['reserve', 'charge', 'ship']);
  });

  it('with recreate: replaces a differing flow and deletes its runs, queued messages and steps', async () => {
    await ensureFlow(db.pool, shop('shop_recreate'));
    const sql = pgflowSql(db.pool);
    const run = await sql.startFlow('shop_recreate', { order: 'A1' });
    const other = await ensureFlow(db.pool, shop('shop_untouched'));
    expect(other.status).toBe('created');
    const untouchedRun = await sql.startFlow('shop_untouched', { order: 'B1' });

    const replacement = new Flow<{ order: string }>({ slug: 'shop_recreate', timeout: 20 }).step({ slug: 'everything' }, () => 1);
    const result = await ensureFlow(db.pool, replacement, { recreate: true });
    expect(result.status).toBe('recreated');
    expect(result.differences.map((difference) => difference.subject)).toContain('step "everything"');
    expect(await ensureFlow(db.pool, replacement)).toEqual({ status: 'unchanged', differences: [] });
    expect(await stepRows('shop_recreate')).toEqual([{ step_slug: 'everything', opt_max_attempts: null, opt_start_delay: null }]);
    expect(await db.query(`select 1 from pgflow.runs where run_id = $1`, [run.runId])).toHaveLength(0);
    expect(await db.query(`select 1 from pgflow.step_tasks where run_id = $1`, [run.runId])).toHaveLength(0);
    expect(await db.query(`select 1 from pgmq.q_shop_recreate`)).toHaveLength(0);
    // Other flows keep their runs.
    expect(await db.query(`select status from pgflow.runs where run_id = $1`, [untouchedRun.runId])).toEqual([{ status: 'started' }]);

    // The recreated flow runs.
    const fresh = await sql.startFlow('shop_recreate', { order: 'A2' });
    expect(await db.query(`select step_slug, status from pgflow.step_tasks where run_id = $1`, [fresh.runId])).toEqual([{ step_slug: 'everything', status: 'queued' }]);
  });

  it('with recreate: leaves a matching flow and its runs alone', async () => {
    await ensureFlow(db.pool, shop('shop_keep'));
    const run = await pgflowSql(db.pool).startFlow('shop_keep', { order: 'K' });
    expect((await ensureFlow(db.pool, shop('shop_keep'), { recreate: true })).status).toBe('unchanged');
    expect(await db.query(`select 1 from pgflow.runs where run_id = $1`, [run.runId])).toHaveLength(1);
  });

  it('compares step types and conditions: a pattern missing in code is NULL, whenUnmet defaults to skip, retriesExhausted to fail', async () => {
    const pipeline = (slug: string) =>
      new Flow<{ ids: number[]; mode?: string }>({ slug })
        .array({ slug: 'ids', if: { run: { mode: 'full' } }, ifNot: { run: { ids: [0] } } }, ({ run }) => run.ids)
        .map({ slug: 'load', array: 'ids', retriesExhausted: 'skip' }, (id) => id)
        .step({ slug: 'sum', dependsOn: ['load'], if: { load: [1] }, whenUnmet: 'fail' }, ({ load }) => (load ?? []).length);
    expect((await ensureFlow(db.pool, pipeline('conditions'))).status).toBe('created');
    const stored = await readFlowDefinition(db.pool, 'conditions');
    expect(stored?.steps.map(({ slug, stepType, condition }) => ({ slug, stepType, condition }))).toEqual([
      { slug: 'ids', stepType: 'single', condition: { requiredInputPattern: { run: { mode: 'full' } }, forbiddenInputPattern: { run: { ids: [0] } }, whenUnmet: 'skip', whenExhausted: 'fail' } },
      { slug: 'load', stepType: 'map', condition: { requiredInputPattern: null, forbiddenInputPattern: null, whenUnmet: 'skip', whenExhausted: 'skip' } },
      { slug: 'sum', stepType: 'single', condition: { requiredInputPattern: { load: [1] }, forbiddenInputPattern: null, whenUnmet: 'fail', whenExhausted: 'fail' } },
    ]);
    expect(await ensureFlow(db.pool, pipeline('conditions'))).toEqual({ status: 'unchanged', differences: [] });
    // Patterns are compared as JSON values: the order of their keys does not matter.
    const reordered = new Flow<{ ids: number[]; mode?: string }>({ slug: 'conditions' })
      .array({ slug: 'ids', ifNot: { run: { ids: [0] } }, if: { run: { mode: 'full' } }, whenUnmet: 'skip' }, ({ run }) => run.ids)
      .map({ slug: 'load', array: 'ids', whenExhausted: 'skip' }, (id) => id)
      .step({ slug: 'sum', dependsOn: ['load'], if: { load: [1] }, whenUnmet: 'fail', retriesExhausted: 'fail' }, () => 0);
    expect(await ensureFlow(db.pool, reordered)).toEqual({ status: 'unchanged', differences: [] });

    const changed = new Flow<{ ids: number[]; mode?: string }>({ slug: 'conditions' })
      .step({ slug: 'ids', if: { run: { mode: 'fast' } } }, ({ run }) => run.ids)
      .step({ slug: 'load', dependsOn: ['ids'] }, () => 1)
      .step({ slug: 'sum', dependsOn: ['load'], ifNot: { load: 1 }, whenUnmet: 'skip-cascade', retriesExhausted: 'skip' }, () => 0);
    const error = await errorOf(ensureFlow(db.pool, changed));
    expect(error.differences).toEqual([
      { subject: 'step "ids" if (required_input_pattern)', database: '{"run":{"mode":"full"}}', code: '{"run":{"mode":"fast"}}' },
      { subject: 'step "ids" ifNot (forbidden_input_pattern)', database: '{"run":{"ids":[0]}}', code: 'none' },
      { subject: 'step "load" type', database: 'map', code: 'single' },
      { subject: 'step "load" retriesExhausted (when_exhausted)', database: "'skip'", code: "'fail' (default)" },
      { subject: 'step "sum" if (required_input_pattern)', database: '{"load":[1]}', code: 'none' },
      { subject: 'step "sum" ifNot (forbidden_input_pattern)', database: 'none', code: '{"load":1}' },
      { subject: 'step "sum" whenUnmet (when_unmet)', database: "'fail'", code: "'skip-cascade'" },
      { subject: 'step "sum" retriesExhausted (when_exhausted)', database: "'fail'", code: "'skip'" },
    ]);
    expect(error.message).toContain(`  - step "load" type: database map, code single\n`);
    // recreate replaces it, conditions included.
    expect((await ensureFlow(db.pool, changed, { recreate: true })).status).toBe('recreated');
    expect(await ensureFlow(db.pool, changed)).toEqual({ status: 'unchanged', differences: [] });
    expect((await readFlowDefinition(db.pool, 'conditions'))?.steps[2]?.condition).toEqual({
      requiredInputPattern: null,
      forbiddenInputPattern: { load: 1 },
      whenUnmet: 'skip-cascade',
      whenExhausted: 'skip',
    });
  });
});
