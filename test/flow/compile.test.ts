/**
 * compileFlow: the exact SQL it emits (the @pgflow/dsl shape), and that
 * applying it creates exactly what the typed wrappers (pgflowSql.createFlow /
 * addStep) create for the same definition; applying it twice changes nothing.
 */
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
    `select step_slug, step_type, step_index, deps_count, opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay
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
  for (const step of flow.steps) await sql.addStep(flow.slug, step.slug, { dependsOn: step.dependsOn, ...step.options });
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
});
