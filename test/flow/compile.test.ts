/**
 * compileFlow: the exact SQL it emits (the @pgflow/dsl shape: identical to
 * @pgflow/dsl@0.8.1's compileFlow for flows both DSLs can express, map and
 * array steps included; conditions after step_type), and that applying it
 * creates exactly what the typed wrappers (pgflowSql.createFlow / addStep)
 * create for the same definition; applying it twice changes nothing.
 */
import { compileFlow as upstreamCompileFlow, Flow as UpstreamFlow } from '@pgflow/dsl';
import { describe, expect, it } from 'vitest';
import { pgflowSql } from '../../src/core/sql-api.js';
import { compileFlow, compileFlowBlock, compileFlowScript, Flow, sqlLiteral, type AnyFlow } from '../../src/flow/index.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

/** A flow with every kind of option, under a given slug. */
function sampleFlow(slug: string) {
  return new Flow<{ url: string }>({ slug, maxAttempts: 4, baseDelay: 2, timeout: 45 })
    .step({ slug: 'fetch' }, () => 'html')
    .step({ slug: 'parse', dependsOn: ['fetch'], timeout: 10 }, () => 1)
    .step({ slug: 'store', dependsOn: ['fetch'], maxAttempts: 7, baseDelay: 3, startDelay: 4 }, () => 2)
    .step({ slug: 'report', dependsOn: ['parse', 'store'] }, () => 3);
}

/** The flow's rows, without the slug and timestamps, for comparison. */
async function shapeOf(flowSlug: string) {
  const flow = await db.query(`select opt_max_attempts, opt_base_delay, opt_timeout from pgflow.flows where flow_slug = $1`, [flowSlug]);
  const steps = await db.query(
    `select step_slug, step_type, step_index, deps_count, opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
            required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted
     from pgflow.steps where flow_slug = $1 order by step_index`,
    [flowSlug],
  );
  const deps = await db.query(`select dep_slug, step_slug from pgflow.deps where flow_slug = $1 order by step_slug, dep_slug`, [flowSlug]);
  const queue = await db.query(`select queue_name from pgmq.meta where queue_name = $1`, [flowSlug]);
  return { flow, steps, deps, queues: queue.length };
}

async function createWithWrappers(flow: AnyFlow) {
  const sql = pgflowSql(db.pool);
  await sql.createFlow(flow.slug, flow.options);
  for (const step of flow.steps) await sql.addStep(flow.slug, step.slug, { dependsOn: step.dependsOn, stepType: step.stepType, ...step.options, ...step.condition });
}

/** Map and array steps with conditions, patterns holding quotes, a backslash and the DO block's own dollar quote. */
function conditionalFlow(slug: string) {
  return new Flow<{ urls: string[]; note?: string; tags?: string[] }>({ slug, timeout: 20 })
    .array({ slug: 'list', if: { run: { note: `it's \\ $pgflow$` } }, whenUnmet: 'skip-cascade' }, ({ run }) => run.urls)
    .map({ slug: 'fetch', array: 'list', maxAttempts: 2, retriesExhausted: 'skip' }, (url) => url.length)
    .step({ slug: 'total', dependsOn: ['fetch'], ifNot: { run: { tags: ['skip'] }, fetch: [0] }, whenUnmet: 'fail' }, ({ fetch }) => (fetch ?? []).length)
    .step({ slug: 'audit', whenExhausted: 'skip-cascade' }, () => null);
}

describe('compileFlow', () => {
  it('emits create_flow and add_step calls in the @pgflow/dsl shape', () => {
    expect(compileFlow(sampleFlow('shape'))).toEqual([
      `SELECT pgflow.create_flow('shape', max_attempts => 4, base_delay => 2, timeout => 45);`,
      `SELECT pgflow.add_step('shape', 'fetch');`,
      `SELECT pgflow.add_step('shape', 'parse', ARRAY['fetch'], timeout => 10);`,
      `SELECT pgflow.add_step('shape', 'store', ARRAY['fetch'], max_attempts => 7, base_delay => 3, start_delay => 4);`,
      `SELECT pgflow.add_step('shape', 'report', ARRAY['parse', 'store']);`,
    ]);
  });

  it('emits options only when set, and options after positional slugs for root steps', () => {
    const flow = new Flow({ slug: 'bare' }).step({ slug: 'only', baseDelay: 0 }, () => null);
    expect(compileFlow(flow)).toEqual([`SELECT pgflow.create_flow('bare');`, `SELECT pgflow.add_step('bare', 'only', base_delay => 0);`]);
  });

  it('quotes literals', () => {
    expect(sqlLiteral(`it's`)).toBe(`'it''s'`);
  });

  it('writes a script with a header, one statement per line', () => {
    expect(compileFlowScript(new Flow({ slug: 'scripted' }).step({ slug: 'a' }, () => 1))).toBe(
      `-- pgflow flow "scripted": 1 step\nSELECT pgflow.create_flow('scripted');\nSELECT pgflow.add_step('scripted', 'a');\n`,
    );
  });

  it('creates in the database exactly what the typed wrappers create', async () => {
    for (const statement of compileFlow(sampleFlow('compiled_sql'))) await db.query(statement);
    await createWithWrappers(sampleFlow('wrapped_sql'));
    const compiled = await shapeOf('compiled_sql');
    expect(compiled.steps).toHaveLength(4);
    expect(compiled.queues).toBe(1);
    expect(compiled).toEqual(await shapeOf('wrapped_sql'));
    expect(compiled.steps[2]).toEqual({
      step_slug: 'store',
      step_type: 'single',
      step_index: 2,
      deps_count: 1,
      opt_max_attempts: 7,
      opt_base_delay: 3,
      opt_timeout: null,
      opt_start_delay: 4,
      required_input_pattern: null,
      forbidden_input_pattern: null,
      when_unmet: 'skip',
      when_exhausted: 'fail',
    });
  });

  it('can be applied again without changing anything', async () => {
    const before = await shapeOf('compiled_sql');
    for (const statement of compileFlow(sampleFlow('compiled_sql'))) await db.query(statement);
    expect(await shapeOf('compiled_sql')).toEqual(before);
  });

  it('as one DO block: creates the same flow, atomically', async () => {
    await db.query(compileFlowBlock(sampleFlow('block_sql')));
    expect(await shapeOf('block_sql')).toEqual(await shapeOf('wrapped_sql'));

    // A block that fails half-way (a step clashing with an existing one) leaves nothing of itself behind.
    const clashing = new Flow({ slug: 'block_sql', maxAttempts: 9 }).step({ slug: 'fetch' }, () => 1).step({ slug: 'parse' }, () => 1);
    await expect(db.query(compileFlowBlock(clashing))).rejects.toThrow(/step "parse" of flow "block_sql" already exists with dependencies \{fetch\}/);
    expect(await shapeOf('block_sql')).toEqual(await shapeOf('wrapped_sql'));
  });

  it('emits step_type for map steps after the options, then the condition, with the patterns as jsonb literals', () => {
    expect(compileFlow(conditionalFlow('cond'))).toEqual([
      `SELECT pgflow.create_flow('cond', timeout => 20);`,
      `SELECT pgflow.add_step('cond', 'list', required_input_pattern => '{"run":{"note":"it''s \\\\ $pgflow$"}}'::jsonb, when_unmet => 'skip-cascade');`,
      `SELECT pgflow.add_step('cond', 'fetch', ARRAY['list'], max_attempts => 2, step_type => 'map', when_exhausted => 'skip');`,
      `SELECT pgflow.add_step('cond', 'total', ARRAY['fetch'], forbidden_input_pattern => '{"run":{"tags":["skip"]},"fetch":[0]}'::jsonb, when_unmet => 'fail');`,
      `SELECT pgflow.add_step('cond', 'audit', when_exhausted => 'skip-cascade');`,
    ]);
    const rootMap = new Flow<number[]>({ slug: 'root_map' }).map({ slug: 'double', startDelay: 1 }, (n) => n * 2);
    expect(compileFlow(rootMap)).toEqual([`SELECT pgflow.create_flow('root_map');`, `SELECT pgflow.add_step('root_map', 'double', start_delay => 1, step_type => 'map');`]);
  });

  it('emits exactly what @pgflow/dsl@0.8.1 emits for flows with step, array and map steps', () => {
    const ours = [
      new Flow<{ ids: number[] }>({ slug: 'same_a', maxAttempts: 5, baseDelay: 1, timeout: 90 })
        .array({ slug: 'ids', timeout: 4 }, ({ run }) => run.ids)
        .map({ slug: 'load', array: 'ids', maxAttempts: 2, baseDelay: 3, timeout: 7, startDelay: 9 }, (id) => ({ id }))
        .map({ slug: 'check', array: 'load' }, (row) => row.id > 0)
        .step({ slug: 'report', dependsOn: ['load', 'check'], startDelay: 2 }, ({ check }) => check.length),
      new Flow<string[]>({ slug: 'same_b' })
        .map({ slug: 'upper' }, (text) => text.toUpperCase())
        .step({ slug: 'join', dependsOn: ['upper'] }, ({ upper }) => upper.join(' ')),
    ];
    const theirs = [
      new UpstreamFlow<{ ids: number[] }>({ slug: 'same_a', maxAttempts: 5, baseDelay: 1, timeout: 90 })
        .array({ slug: 'ids', timeout: 4 }, ({ run }) => run.ids)
        .map({ slug: 'load', array: 'ids', maxAttempts: 2, baseDelay: 3, timeout: 7, startDelay: 9 }, (id) => ({ id }))
        .map({ slug: 'check', array: 'load' }, (row) => row.id > 0)
        .step({ slug: 'report', dependsOn: ['load', 'check'], startDelay: 2 }, ({ check }) => check.length),
      new UpstreamFlow<string[]>({ slug: 'same_b' })
        .map({ slug: 'upper' }, (text) => text.toUpperCase())
        .step({ slug: 'join', dependsOn: ['upper'] }, ({ upper }) => upper.join(' ')),
    ];
    for (const [index, flow] of ours.entries()) {
      const expected = upstreamCompileFlow(theirs[index]!);
      expect(expected.some((statement) => statement.includes(`step_type => 'map'`))).toBe(true);
      expect(compileFlow(flow)).toEqual(expected);
    }
  });

  it('map steps and conditions: the compiled SQL, the one DO block and the typed wrappers create the same rows, and again changes nothing', async () => {
    for (const statement of compileFlow(conditionalFlow('cond_sql'))) await db.query(statement);
    await db.query(compileFlowBlock(conditionalFlow('cond_block')));
    await createWithWrappers(conditionalFlow('cond_wrapped'));
    const compiled = await shapeOf('cond_sql');
    expect(compiled.steps.map((step) => [step.step_slug, step.step_type, step.required_input_pattern, step.forbidden_input_pattern, step.when_unmet, step.when_exhausted])).toEqual([
      ['list', 'single', { run: { note: `it's \\ $pgflow$` } }, null, 'skip-cascade', 'fail'],
      ['fetch', 'map', null, null, 'skip', 'skip'],
      ['total', 'single', null, { run: { tags: ['skip'] }, fetch: [0] }, 'fail', 'fail'],
      ['audit', 'single', null, null, 'skip', 'skip-cascade'],
    ]);
    expect(await shapeOf('cond_block')).toEqual(compiled);
    expect(await shapeOf('cond_wrapped')).toEqual(compiled);
    for (const statement of compileFlow(conditionalFlow('cond_sql'))) await db.query(statement);
    expect(await shapeOf('cond_sql')).toEqual(compiled);
  });

  it("picks a dollar quote for the DO block that its body does not contain", () => {
    const block = compileFlowBlock(conditionalFlow('quoted'));
    expect(block.startsWith('DO $pgflow_1$\nBEGIN\n')).toBe(true);
    expect(block.endsWith('\nEND\n$pgflow_1$;')).toBe(true);
    expect(compileFlowBlock(sampleFlow('plain')).startsWith('DO $pgflow$\n')).toBe(true);
  });
});
