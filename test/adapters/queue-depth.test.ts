/**
 * `pgflowSql(db).queueDepths()`: per flow, the messages a worker can read
 * now, those of tasks being run, those waiting for a retry's backoff or a
 * start delay, and the oldest readable message's age — as the queue and the
 * tasks say at that moment.
 */
import { describe, expect, it } from 'vitest';
import { PgflowArgumentError } from '../../src/core/arguments.js';
import { pgflowSql } from '../../src/core/sql-api.js';
import { defineFlow, failTask, newWorkerId, queueTable, startFlow, takeTask, uniqueSlug } from '../engine/support.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

describe('pgflowSql(db).queueDepths()', () => {
  it('counts visible, in-flight and delayed messages per flow, with the oldest visible age', async () => {
    const busy = await defineFlow(db, uniqueSlug('busy'), { baseDelay: 60, steps: ['only'] });
    const later = await defineFlow(db, uniqueSlug('later'), { steps: [{ slug: 'only', startDelay: 3600 }] });
    const idle = await defineFlow(db, uniqueSlug('idle'), { steps: ['only'] });
    const runs = [];
    for (let i = 0; i < 4; i++) runs.push((await startFlow(db, busy, { i })).run_id);
    await startFlow(db, later);
    await db.query(`update pgmq.${queueTable(busy, 'q')} set enqueued_at = enqueued_at - interval '90 seconds'`);

    const worker = newWorkerId();
    await takeTask(db, busy, runs[0]!, 'only', worker); // in flight
    await takeTask(db, busy, runs[1]!, 'only', worker);
    await failTask(db, runs[1]!, 'only', 'try again'); // back in the queue behind its 60 s backoff

    const depths = await pgflowSql(db.pool).queueDepths();
    const bySlug = new Map(depths.map((depth) => [depth.flowSlug, depth]));
    expect(depths.map((depth) => depth.flowSlug)).toEqual([...depths.map((depth) => depth.flowSlug)].sort());
    expect(bySlug.get(busy)).toMatchObject({ flowSlug: busy, visible: 2, inFlight: 1, delayed: 1 });
    expect(bySlug.get(busy)!.oldestVisibleSeconds).toBeGreaterThanOrEqual(90);
    expect(bySlug.get(busy)!.oldestVisibleSeconds).toBeLessThan(3600);
    expect(bySlug.get(later)).toEqual({ flowSlug: later, visible: 0, inFlight: 0, delayed: 1, oldestVisibleSeconds: null });
    expect(bySlug.get(idle)).toEqual({ flowSlug: idle, visible: 0, inFlight: 0, delayed: 0, oldestVisibleSeconds: null });
  });

  it('reads only the flows named; unknown flows and flows whose queue is gone are left out', async () => {
    const kept = await defineFlow(db, uniqueSlug('kept'), { steps: ['only'] });
    const dropped = await defineFlow(db, uniqueSlug('dropped'), { steps: ['only'] });
    await startFlow(db, kept);
    await db.query(`select pgmq.drop_queue($1)`, [dropped]);

    const depths = await pgflowSql(db.pool).queueDepths([dropped, kept, 'no_such_flow']);
    expect(depths).toEqual([{ flowSlug: kept, visible: 1, inFlight: 0, delayed: 0, oldestVisibleSeconds: expect.any(Number) }]);
    expect(await pgflowSql(db.pool).queueDepths([])).toEqual([]);
  });

  it('refuses a flow slug holding a NUL character before sending anything', async () => {
    const error = await pgflowSql(db.pool)
      .queueDepths(['ok', 'bad\u0000slug'])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PgflowArgumentError);
    expect((error as PgflowArgumentError).argument).toBe('flowSlugs[1]');
  });
});
