/**
 * The built-in queue's catalogue shape: types, tables, indexes, sequences and
 * function signatures must match pgmq 1.5.x, because pgflow and its users
 * reach into them directly (e.g. `pgmq.q_<queue>`, `message_record.headers`).
 */
import { describe, expect, it } from 'vitest';
import { useQueueDatabase } from './install.js';

const db = useQueueDatabase();

async function attributes(relation: string) {
  return db.query<{ name: string; type: string; not_null: boolean; default: string | null; identity: string }>(
    `select a.attname as name, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
            pg_get_expr(d.adbin, d.adrelid) as default, a.attidentity as identity
     from pg_attribute as a
     left join pg_attrdef as d on d.adrelid = a.attrelid and d.adnum = a.attnum
     where a.attrelid = $1::regclass and a.attnum > 0 and not a.attisdropped
     order by a.attnum`,
    [relation],
  );
}

async function indexes(relation: string) {
  const rows = await db.query<{ name: string; definition: string }>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
     from pg_index as i join pg_class as c on c.oid = i.indexrelid
     where i.indrelid = $1::regclass order by c.relname`,
    [relation],
  );
  return rows;
}

describe('composite types', () => {
  it.each([
    [
      'message_record',
      [
        ['msg_id', 'bigint'],
        ['read_ct', 'integer'],
        ['enqueued_at', 'timestamp with time zone'],
        ['vt', 'timestamp with time zone'],
        ['message', 'jsonb'],
        ['headers', 'jsonb'],
      ],
    ],
    [
      'queue_record',
      [
        ['queue_name', 'character varying'],
        ['is_partitioned', 'boolean'],
        ['is_unlogged', 'boolean'],
        ['created_at', 'timestamp with time zone'],
      ],
    ],
    [
      'metrics_result',
      [
        ['queue_name', 'text'],
        ['queue_length', 'bigint'],
        ['newest_msg_age_sec', 'integer'],
        ['oldest_msg_age_sec', 'integer'],
        ['total_messages', 'bigint'],
        ['scrape_time', 'timestamp with time zone'],
        ['queue_visible_length', 'bigint'],
      ],
    ],
  ])('pgmq.%s has the pgmq 1.5 fields in order', async (type, fields) => {
    const rows = await attributes(`pgmq.${type}`);
    expect(rows.map((row) => [row.name, row.type])).toEqual(fields);
  });

  it('passes the check pgflow runs for pgmq >= 1.5 (message_record has a live headers attribute)', async () => {
    const rows = await db.query(
      `select 1 from pg_type as t
       join pg_namespace as n on n.oid = t.typnamespace
       join pg_attribute as a on a.attrelid = t.typrelid
       where t.typname = 'message_record' and n.nspname = 'pgmq'
         and a.attname = 'headers' and a.attnum > 0 and not a.attisdropped`,
    );
    expect(rows).toHaveLength(1);
  });
});

describe('pgmq.meta', () => {
  it('has the pgmq columns, a unique queue_name and no primary key', async () => {
    expect(await attributes('pgmq.meta')).toEqual([
      { name: 'queue_name', type: 'character varying', not_null: true, default: null, identity: '' },
      { name: 'is_partitioned', type: 'boolean', not_null: true, default: null, identity: '' },
      { name: 'is_unlogged', type: 'boolean', not_null: true, default: null, identity: '' },
      { name: 'created_at', type: 'timestamp with time zone', not_null: true, default: 'now()', identity: '' },
    ]);
    const constraints = await db.query<{ conname: string; contype: string }>(
      `select conname, contype from pg_constraint where conrelid = 'pgmq.meta'::regclass and contype in ('p', 'u') order by conname`,
    );
    expect(constraints).toEqual([{ conname: 'meta_queue_name_key', contype: 'u' }]);
  });
});

describe('queue tables', () => {
  it('create() makes pgmq.q_<name> and pgmq.a_<name> with the pgmq columns, defaults and indexes', async () => {
    await db.query(`select pgmq.create('shape')`);
    expect(await attributes('pgmq.q_shape')).toEqual([
      { name: 'msg_id', type: 'bigint', not_null: true, default: null, identity: 'a' },
      { name: 'read_ct', type: 'integer', not_null: true, default: '0', identity: '' },
      { name: 'enqueued_at', type: 'timestamp with time zone', not_null: true, default: 'now()', identity: '' },
      { name: 'vt', type: 'timestamp with time zone', not_null: true, default: null, identity: '' },
      { name: 'message', type: 'jsonb', not_null: false, default: null, identity: '' },
      { name: 'headers', type: 'jsonb', not_null: false, default: null, identity: '' },
    ]);
    expect(await attributes('pgmq.a_shape')).toEqual([
      { name: 'msg_id', type: 'bigint', not_null: true, default: null, identity: '' },
      { name: 'read_ct', type: 'integer', not_null: true, default: '0', identity: '' },
      { name: 'enqueued_at', type: 'timestamp with time zone', not_null: true, default: 'now()', identity: '' },
      { name: 'archived_at', type: 'timestamp with time zone', not_null: true, default: 'now()', identity: '' },
      { name: 'vt', type: 'timestamp with time zone', not_null: true, default: null, identity: '' },
      { name: 'message', type: 'jsonb', not_null: false, default: null, identity: '' },
      { name: 'headers', type: 'jsonb', not_null: false, default: null, identity: '' },
    ]);
    expect(await indexes('pgmq.q_shape')).toEqual([
      { name: 'q_shape_pkey', definition: 'CREATE UNIQUE INDEX q_shape_pkey ON pgmq.q_shape USING btree (msg_id)' },
      { name: 'q_shape_vt_idx', definition: 'CREATE INDEX q_shape_vt_idx ON pgmq.q_shape USING btree (vt)' },
    ]);
    expect(await indexes('pgmq.a_shape')).toEqual([
      { name: 'a_shape_pkey', definition: 'CREATE UNIQUE INDEX a_shape_pkey ON pgmq.a_shape USING btree (msg_id)' },
      { name: 'archived_at_idx_shape', definition: 'CREATE INDEX archived_at_idx_shape ON pgmq.a_shape USING btree (archived_at)' },
    ]);
  });

  it('names the identity sequence q_<name>_msg_id_seq, as pgmq.metrics expects', async () => {
    await db.query(`select pgmq.create('seqname')`);
    const [row] = await db.query<{ sequence: string }>(`select pg_get_serial_sequence('pgmq.q_seqname', 'msg_id') as sequence`);
    expect(row?.sequence).toBe('pgmq.q_seqname_msg_id_seq');
  });

  it('names the archive index after the queue name as given (not lowercased), like pgmq', async () => {
    await db.query(`select pgmq.create('IdxCase')`);
    expect((await indexes('pgmq.a_idxcase')).map((index) => index.name)).toEqual(['a_idxcase_pkey', 'archived_at_idx_IdxCase']);
  });

  it('create_unlogged() makes an UNLOGGED queue table but a logged archive, and records is_unlogged', async () => {
    await db.query(`select pgmq.create_unlogged('fast')`);
    const rows = await db.query<{ relname: string; relpersistence: string }>(
      `select relname, relpersistence from pg_class
       where relnamespace = 'pgmq'::regnamespace and relname in ('q_fast', 'a_fast') order by relname`,
    );
    expect(rows).toEqual([
      { relname: 'a_fast', relpersistence: 'p' },
      { relname: 'q_fast', relpersistence: 'u' },
    ]);
    await db.query(`select pgmq.create('slow')`);
    expect(await attributes('pgmq.q_fast')).toEqual(await attributes('pgmq.q_slow'));
    expect(await attributes('pgmq.a_fast')).toEqual(await attributes('pgmq.a_slow'));
    const [meta] = await db.query(`select is_partitioned, is_unlogged from pgmq.meta where queue_name = 'fast'`);
    expect(meta).toEqual({ is_partitioned: false, is_unlogged: true });
  });

  it('lets pg_monitor read queue tables and sequences created later', async () => {
    await db.query(`select pgmq.create('monitored')`);
    const [row] = await db.query(
      `select has_schema_privilege('pg_monitor', 'pgmq', 'usage') as schema,
              has_table_privilege('pg_monitor', 'pgmq.meta', 'select') as meta,
              has_table_privilege('pg_monitor', 'pgmq.q_monitored', 'select') as queue,
              has_table_privilege('pg_monitor', 'pgmq.a_monitored', 'select') as archive,
              has_sequence_privilege('pg_monitor', 'pgmq.q_monitored_msg_id_seq', 'select') as sequence`,
    );
    expect(row).toEqual({ schema: true, meta: true, queue: true, archive: true, sequence: true });
  });
});

describe('functions', () => {
  it('have exactly the pgmq 1.5 public signatures: names, argument names, defaults and result types', async () => {
    // Names starting with `_` are internal helpers, as in the pgmq extension (which has its own).
    const rows = await db.query<{ signature: string }>(
      `select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> ' || pg_get_function_result(p.oid) as signature
       from pg_proc as p where p.pronamespace = 'pgmq'::regnamespace and p.proname not like '\\_%'
       order by p.proname, pg_get_function_identity_arguments(p.oid)`,
    );
    expect(rows.map((row) => row.signature)).toEqual([
      'archive(queue_name text, msg_id bigint) -> boolean',
      'archive(queue_name text, msg_ids bigint[]) -> SETOF bigint',
      "convert_archive_partitioned(table_name text, partition_interval text DEFAULT '10000'::text, retention_interval text DEFAULT '100000'::text, leading_partition integer DEFAULT 10) -> void",
      'create(queue_name text) -> void',
      'create_non_partitioned(queue_name text) -> void',
      "create_partitioned(queue_name text, partition_interval text DEFAULT '10000'::text, retention_interval text DEFAULT '100000'::text) -> void",
      'create_unlogged(queue_name text) -> void',
      'delete(queue_name text, msg_id bigint) -> boolean',
      'delete(queue_name text, msg_ids bigint[]) -> SETOF bigint',
      'detach_archive(queue_name text) -> void',
      'drop_queue(queue_name text) -> boolean',
      'drop_queue(queue_name text, partitioned boolean) -> boolean',
      'format_table_name(queue_name text, prefix text) -> text',
      'list_queues() -> SETOF pgmq.queue_record',
      'metrics(queue_name text) -> pgmq.metrics_result',
      'metrics_all() -> SETOF pgmq.metrics_result',
      'pop(queue_name text) -> SETOF pgmq.message_record',
      'purge_queue(queue_name text) -> bigint',
      "read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}'::jsonb) -> SETOF pgmq.message_record",
      "read_with_poll(queue_name text, vt integer, qty integer, max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100, conditional jsonb DEFAULT '{}'::jsonb) -> SETOF pgmq.message_record",
      'send(queue_name text, msg jsonb) -> SETOF bigint',
      'send(queue_name text, msg jsonb, delay integer) -> SETOF bigint',
      'send(queue_name text, msg jsonb, delay timestamp with time zone) -> SETOF bigint',
      'send(queue_name text, msg jsonb, headers jsonb) -> SETOF bigint',
      'send(queue_name text, msg jsonb, headers jsonb, delay integer) -> SETOF bigint',
      'send(queue_name text, msg jsonb, headers jsonb, delay timestamp with time zone) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[]) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[], delay integer) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[], delay timestamp with time zone) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[], headers jsonb[]) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer) -> SETOF bigint',
      'send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamp with time zone) -> SETOF bigint',
      'set_vt(queue_name text, msg_id bigint, vt integer) -> SETOF pgmq.message_record',
      'validate_queue_name(queue_name text) -> void',
    ]);
    const helpers = await db.query<{ signature: string }>(
      `select p.proname || '(' || pg_get_function_arguments(p.oid) || ') -> ' || pg_get_function_result(p.oid) as signature
       from pg_proc as p where p.pronamespace = 'pgmq'::regnamespace and p.proname like '\\_%' order by p.proname`,
    );
    expect(helpers.map((row) => row.signature)).toEqual([
      '_check_read_arguments(vt integer, qty integer) -> void',
      '_create_queue_tables(queue_name text, unlogged boolean) -> void',
      '_queue_table(queue_name text) -> text',
    ]);
  });

  it('all pin search_path to empty, are volatile and not security definer', async () => {
    const rows = await db.query<{ name: string; config: string[] | null; volatility: string; definer: boolean }>(
      `select p.oid::regprocedure::text as name, p.proconfig as config, p.provolatile as volatility, p.prosecdef as definer
       from pg_proc as p where p.pronamespace = 'pgmq'::regnamespace`,
    );
    expect(rows.length).toBeGreaterThan(30);
    for (const row of rows) {
      expect({ name: row.name, config: row.config, volatility: row.volatility, definer: row.definer }).toEqual({
        name: row.name,
        config: ['search_path=""'],
        volatility: 'v',
        definer: false,
      });
    }
  });

  it('keep working for a caller whose search_path does not include pgmq or public', async () => {
    const client = await db.connect();
    await client.query(`set search_path = pg_catalog`);
    await client.query(`select pgmq.create('no_path')`);
    const sent = await client.query(`select * from pgmq.send('no_path', '{"k":1}')`);
    const read = await client.query(`select msg_id, message from pgmq.read('no_path', 30, 1)`);
    expect(read.rows).toEqual([{ msg_id: sent.rows[0].send, message: { k: 1 } }]);
  });
});
