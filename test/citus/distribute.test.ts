/**
 * pgflow.distribute_on_citus() on a real cluster: the tables end where they
 * should (reference tables, distributed and co-located by run_id), the
 * foreign keys and every function are the same before and after, a second
 * call changes nothing, and a database without the citus extension is
 * refused with nothing changed. Also `pgflow-orm citus distribute`.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { toExecutor } from '../../src/core/connection.js';
import { applyBundledMigrations } from '../../src/migrations/apply.js';
import { cli as runCli } from '../cli/support.js';
import { clusterUrl, useCitusDatabase } from './support.js';

const db = useCitusDatabase({ distributed: false });

interface FunctionRow {
  signature: string;
  definition_md5: string;
  acl: string | null;
  owner: string;
}

async function functions(query: (text: string) => Promise<FunctionRow[]>): Promise<FunctionRow[]> {
  return query(
    `select p.oid::regprocedure::text as signature, md5(pg_get_functiondef(p.oid)) as definition_md5, p.proacl::text as acl,
            pg_get_userbyid(p.proowner) as owner
     from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('pgflow', 'pgmq') order by 1`,
  );
}

async function foreignKeys(): Promise<{ name: string; definition: string }[]> {
  return db.query(
    `select c.conrelid::regclass::text || '.' || c.conname as name, pg_get_constraintdef(c.oid) as definition
     from pg_constraint c join pg_namespace n on n.oid = c.connamespace
     where n.nspname = 'pgflow' and c.contype = 'f'
       -- the coordinator's placements of reference tables (flows_102008, …) carry copies of the keys
       and c.conrelid::regclass::text !~ '_[0-9]+$'
     order by 1`,
  );
}

async function placement(): Promise<Record<string, string>> {
  const rows = await db.query<{ table_name: string; kind: string }>(
    `select c.relname as table_name,
            case p.partmethod when 'n' then 'reference' when 'h' then 'distributed by ' || column_to_column_name(p.logicalrelid, p.partkey) else 'local' end
              || case when p.partmethod = 'h' then ' colocation ' || (p.colocationid = (select colocationid from pg_dist_partition where logicalrelid = 'pgflow.runs'::regclass))::text else '' end as kind
     from pg_class c join pg_namespace n on n.oid = c.relnamespace
     left join pg_dist_partition p on p.logicalrelid = c.oid
     where n.nspname = 'pgflow' and c.relkind in ('r', 'p') order by 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.table_name, row.kind]));
}

describe('pgflow.distribute_on_citus()', () => {
  it('places the tables, keeps every foreign key and every function, and is idempotent', async () => {
    const before = { functions: await functions((text) => db.query<FunctionRow>(text)), keys: await foreignKeys() };
    expect(before.functions.length).toBeGreaterThan(50);
    expect(before.keys.length).toBeGreaterThan(5);
    expect(Object.values(await placement()).every((kind) => kind === 'local')).toBe(true);

    const changes = (await db.query<{ change: string }>('select change from pgflow.distribute_on_citus() as change')).map((row) => row.change);
    expect(changes).toContain('pgflow.runs: distributed by run_id');
    expect(changes).toContain('pgflow.step_tasks: distributed by run_id, co-located with pgflow.runs');
    expect(changes).toContain('pgflow.flows: reference table');

    expect(await placement()).toEqual({
      deps: 'reference',
      flows: 'reference',
      role_access: 'reference',
      runs: 'distributed by run_id colocation true',
      schedule_ticks: 'reference',
      schedules: 'reference',
      step_states: 'distributed by run_id colocation true',
      step_tasks: 'distributed by run_id colocation true',
      steps: 'reference',
      workers: 'reference',
    });
    expect(await foreignKeys()).toEqual(before.keys);
    expect(await functions((text) => db.query<FunctionRow>(text))).toEqual(before.functions);

    // Nothing left to do the second time; the same through the CLI.
    expect(await db.query('select change from pgflow.distribute_on_citus() as change')).toEqual([]);
    const cli = await runCli(['citus', 'distribute', '--database-url', db.url]);
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toBe('pgflow is already distributed on this Citus cluster; nothing to do\n');
    expect(cli.code).toBe(0);
    expect(await functions((text) => db.query<FunctionRow>(text))).toEqual(before.functions);

    // The shards of runs live on the worker nodes, and a run's rows on one node.
    const [flow] = await db.query<{ flow_slug: string }>(`select (pgflow.create_flow('dist_check')).flow_slug`);
    await db.query(`select pgflow.add_step('dist_check', 'a'), pgflow.add_step('dist_check', 'b', array['a'])`);
    await db.query(`select pgflow.start_flow($1, jsonb_build_object('n', g)) from generate_series(1, 40) g`, [flow!.flow_slug]);
    const perNode = await db.query<{ nodeport: number; runs: number; states: number }>(
      `select s.nodeport,
              count(*) filter (where s.table_name = 'pgflow.runs'::regclass)::int as runs,
              count(*) filter (where s.table_name = 'pgflow.step_states'::regclass)::int as states
       from citus_shards s where s.table_name in ('pgflow.runs'::regclass, 'pgflow.step_states'::regclass) group by 1 order by 1`,
    );
    expect(perNode.length).toBe(db.workerUrls.length);
    const onWorkers = await Promise.all(
      db.workerUrls.map(async (url) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          // The workers' own shards, read through their local tables (run_iD pruning is the coordinator's job).
          await client.query(`set citus.override_table_visibility = off`);
          const { rows } = await client.query<{ runs: number }>(
            `select coalesce(sum((xpath('/row/c/text()', query_to_xml(format('select count(*) as c from pgflow.%I', c.relname), false, true, '')))[1]::text::int), 0)::int as runs
             from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'pgflow' and c.relname ~ '^runs_[0-9]+$'`,
          );
          return rows[0]!.runs;
        } finally {
          await client.end();
        }
      }),
    );
    expect(onWorkers.reduce((a, b) => a + b, 0)).toBe(40);
    expect(onWorkers.every((n) => n > 0)).toBe(true);
    // Each run's step states are on the node of its run.
    const [colocated] = await db.query<{ apart: number }>(
      `select count(*)::int as apart from pgflow.step_states s
       where get_shard_id_for_distribution_column('pgflow.step_states', s.run_id) is null`,
    );
    expect(colocated!.apart).toBe(0);
  });

  it('refuses a database without the citus extension and changes nothing', async () => {
    const url = new URL(clusterUrl());
    const name = `pgflow_plain_${Date.now()}`;
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin.query(`create database "${name}"`);
    url.pathname = `/${name}`;
    const client = new pg.Client({ connectionString: url.toString() });
    try {
      await client.connect();
      await applyBundledMigrations(toExecutor(client));
      const before = await functions(async (text) => (await client.query<FunctionRow>(text)).rows);
      const error = await client.query('select pgflow.distribute_on_citus()').then(
        () => undefined,
        (caught: Error & { code?: string; hint?: string }) => caught,
      );
      expect(error?.message).toBe('the citus extension is not installed in this database');
      expect(error?.code).toBe('0A000');
      expect(error?.hint).toMatch(/CREATE EXTENSION citus/);
      expect(await functions(async (text) => (await client.query<FunctionRow>(text)).rows)).toEqual(before);
      const { rows } = await client.query<{ keys: number }>(
        `select count(*)::int as keys from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = 'pgflow' and c.contype = 'f'`,
      );
      expect(rows[0]!.keys).toBeGreaterThan(5);

      const cli = await runCli(['citus', 'distribute', '--database-url', url.toString()]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/the citus extension is not installed in this database\n.*CREATE EXTENSION citus/);
    } finally {
      await client.end();
      await admin.query(`drop database "${name}" with (force)`);
      await admin.end();
    }
  });
});
