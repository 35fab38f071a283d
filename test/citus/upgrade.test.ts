/**
 * An upgrade of a distributed install with runs in flight: a made-up next
 * release (the shape `npm run db:functions` writes, plus table changes: a
 * column on the distributed runs, an index on the distributed step_tasks and
 * a column on the reference table flows) is applied by the package's own
 * migrator on the coordinator. Citus propagates the DDL to every shard; the
 * runs in flight keep their state and their queued tasks, and
 * pgflow.distribute_on_citus() afterwards finds nothing to do.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { readMigrations } from '../../src/migrations/index.js';
import { syntheticHistory } from '../migrators/support/synthetic.js';
import { defineFlow, diamondSteps, uniqueSlug } from '../engine/support.js';
import { useCitusDatabase } from './support.js';

const db = useCitusDatabase();

describe('upgrading a distributed install', () => {
  it('applies a release with table changes to every shard and keeps the runs in flight', async () => {
    const flow = await defineFlow(db, uniqueSlug('upgrade'), { steps: diamondSteps });
    const runIds: string[] = [];
    for (let i = 0; i < 10; i++) {
      runIds.push((await db.query<{ run_id: string }>(`select run_id from pgflow.start_flow($1, jsonb_build_object('n', $2::int))`, [flow, i]))[0]!.run_id);
    }
    const before = await db.query(`select run_id, status, remaining_steps from pgflow.runs where flow_slug = $1 order by run_id`, [flow]);

    const { folder, migrations: synthetic } = syntheticHistory(['0.5.1']);
    const next = synthetic.at(-1)!;
    appendFileSync(
      join(folder, `${next.tag}.sql`),
      [
        '--> statement-breakpoint',
        'alter table pgflow.runs add column upgrade_note text default \'probe\';',
        '--> statement-breakpoint',
        'create index idx_step_tasks_upgrade_probe on pgflow.step_tasks (queued_at);',
        '--> statement-breakpoint',
        'alter table pgflow.flows add column upgrade_label text;',
        '',
      ].join('\n'),
    );
    const client = await db.connect();
    const result = await applyBundledMigrations(toExecutor(client), { migrations: readMigrations(folder) });
    expect(result).toEqual({ applied: [next.tag], version: '0.5.1' });
    expect(await db.query(`select pgflow.upgrade_probe() as probe`)).toEqual([{ probe: 'probe of 0.5.1' }]);

    // Every shard of runs got the column (with its default for the rows already there), every shard of
    // step_tasks the index, every placement of flows its column.
    const shards = async (table: string, command: string) =>
      db.query<{ success: boolean; result: string }>(`select success, result from run_command_on_shards($1, $2)`, [table, command]);
    const runShards = await shards('pgflow.runs', `select count(*) filter (where upgrade_note = 'probe') || '/' || count(*) from %s`);
    expect(runShards.every((shard) => shard.success)).toBe(true);
    const counted = runShards.map((shard) => shard.result.split('/').map(Number));
    expect(counted.every(([probe, all]) => probe === all)).toBe(true);
    expect(counted.reduce((sum, [, all]) => sum + all!, 0)).toBe(10);
    const indexShards = await shards('pgflow.step_tasks', `select count(*) from pg_indexes where indexname like 'idx_step_tasks_upgrade_probe%%' and tablename = split_part('%s', '.', 2)`);
    expect(indexShards.length).toBeGreaterThan(1);
    expect(indexShards.every((shard) => shard.success && shard.result === '1')).toBe(true);
    const flowPlacements = await db.query<{ success: boolean; result: string }>(
      `select success, result from run_command_on_placements('pgflow.flows', $$select count(*) from information_schema.columns where column_name = 'upgrade_label' and table_name = split_part('%s', '.', 2)$$)`,
    );
    expect(flowPlacements.length).toBe(db.workerUrls.length + 1);
    expect(flowPlacements.every((placement) => placement.success && placement.result === '1')).toBe(true);

    // The runs in flight are as they were, their root tasks still queued with visible messages.
    expect(await db.query(`select run_id, status, remaining_steps from pgflow.runs where flow_slug = $1 order by run_id`, [flow])).toEqual(before);
    const [open] = await db.query<{ queued: number; visible: number }>(
      `select (select count(*)::int from pgflow.step_tasks where flow_slug = $1 and status = 'queued') as queued,
              (select count(*)::int from pgmq."q_${flow}" where vt <= clock_timestamp()) as visible`,
      [flow],
    );
    expect(open).toEqual({ queued: 10, visible: 10 });
    // New runs start after the upgrade, and the install is still fully distributed.
    await db.query(`select pgflow.start_flow($1, '{"n": 99}')`, [flow]);
    expect(await db.query(`select change from pgflow.distribute_on_citus() as change`)).toEqual([]);
  });
});
