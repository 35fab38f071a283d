/**
 * Queue names and queue creation: format_table_name, validate_queue_name,
 * the 47-character limit, rejected characters, case handling, and create()
 * being idempotent and safe under concurrent creators.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, useQueueDatabase } from './install.js';

const db = useQueueDatabase();

const tableExists = async (name: string) =>
  (await db.query<{ exists: boolean }>(`select to_regclass($1) is not null as exists`, [`pgmq.${name}`]))[0]?.exists;

describe('pgmq.format_table_name', () => {
  it('returns <prefix>_<name>, lowercased', async () => {
    const [row] = await db.query(`select pgmq.format_table_name('MyQueue', 'q') as q, pgmq.format_table_name('MyQueue', 'a') as a`);
    expect(row).toEqual({ q: 'q_myqueue', a: 'a_myqueue' });
  });

  it.each([['with$dollar'], ['semi;colon'], ['double--dash'], ["single'quote"]])('rejects %j', async (name) => {
    const error = await errorOf(() => db.query(`select pgmq.format_table_name($1, 'q')`, [name]));
    expect(error.message).toBe("queue name contains invalid characters: $, ;, --, or '");
  });

  it('accepts characters that %I can quote, such as spaces, hyphens and dots', async () => {
    const [row] = await db.query(`select pgmq.format_table_name('a b-c.d', 'q') as name`);
    expect(row).toEqual({ name: 'q_a b-c.d' });
  });
});

describe('pgmq.validate_queue_name', () => {
  it('accepts 47 characters', async () => {
    await expect(db.query(`select pgmq.validate_queue_name(repeat('x', 47))`)).resolves.toHaveLength(1);
  });

  it('rejects 48 characters with an error that states the maximum of 47', async () => {
    const error = await errorOf(() => db.query(`select pgmq.validate_queue_name(repeat('x', 48))`));
    expect(error.message).toBe('queue name is too long, maximum length is 47 characters');
    expect(error.detail).toBe('The queue name has 48 characters.');
  });
});

describe('pgmq.create with invalid names', () => {
  it('rejects a 48-character name and creates nothing', async () => {
    const name = 'n'.repeat(48);
    const error = await errorOf(() => db.query(`select pgmq.create($1)`, [name]));
    expect(error.message).toContain('maximum length is 47 characters');
    expect(await tableExists(`q_${name}`)).toBe(false);
    expect(await db.query(`select 1 from pgmq.meta where queue_name = $1`, [name])).toEqual([]);
  });

  it('accepts a 47-character name and every derived object keeps its full name', async () => {
    const name = 'l'.repeat(47);
    await db.query(`select pgmq.create($1)`, [name]);
    const rows = await db.query<{ relname: string }>(
      `select relname from pg_class where relnamespace = 'pgmq'::regnamespace and relname like '%' || $1 || '%' order by relname`,
      [name],
    );
    expect(rows.map((row) => row.relname)).toEqual(
      [`a_${name}`, `a_${name}_pkey`, `archived_at_idx_${name}`, `q_${name}`, `q_${name}_msg_id_seq`, `q_${name}_pkey`, `q_${name}_vt_idx`].sort(),
    );
    const [sent] = await db.query<{ send: string }>(`select * from pgmq.send($1, '{}')`, [name]);
    expect(sent?.send).toBe('1');
  });

  it.each([['bad$name'], ['bad;name'], ['bad--name'], ["bad'name"]])('rejects %j before running any SQL', async (name) => {
    const error = await errorOf(() => db.query(`select pgmq.create($1)`, [name]));
    expect(error.message).toContain('queue name contains invalid characters');
    expect(await db.query(`select 1 from pgmq.meta where queue_name = $1`, [name])).toEqual([]);
  });

  it('rejects bad characters in every function, not only in create', async () => {
    for (const call of [
      `select pgmq.send('x;y', '{}')`,
      `select pgmq.read('x;y', 1, 1)`,
      `select pgmq.pop('x;y')`,
      `select pgmq.archive('x;y', 1)`,
      `select pgmq.delete('x;y', 1)`,
      `select pgmq.metrics('x;y')`,
      `select pgmq.drop_queue('x;y')`,
    ]) {
      const error = await errorOf(() => db.query(call));
      expect(error.message, call).toContain('queue name contains invalid characters');
    }
  });

  it('accepts a name with spaces and hyphens, quoting it everywhere', async () => {
    await db.query(`select pgmq.create('odd name-1')`);
    expect(await tableExists('"q_odd name-1"')).toBe(true);
    await db.query(`select pgmq.send('odd name-1', '{"ok":true}')`);
    const read = await db.query(`select message from pgmq.read('odd name-1', 30, 5)`);
    expect(read).toEqual([{ message: { ok: true } }]);
    expect(await db.query(`select pgmq.archive('odd name-1', 1) as archived`)).toEqual([{ archived: true }]);
  });
});

describe('mixed-case queue names', () => {
  it('map to lowercased tables while pgmq.meta keeps the name as given', async () => {
    await db.query(`select pgmq.create('MixedCase')`);
    expect(await tableExists('q_mixedcase')).toBe(true);
    expect(await tableExists('a_mixedcase')).toBe(true);
    expect(await tableExists('"q_MixedCase"')).toBe(false);
    expect(await db.query(`select queue_name from pgmq.list_queues() where lower(queue_name) = 'mixedcase'`)).toEqual([
      { queue_name: 'MixedCase' },
    ]);
  });

  it('reach the same queue whatever the case used to call', async () => {
    await db.query(`select pgmq.create('CaseQ')`);
    await db.query(`select pgmq.send('CaseQ', '{"n":1}')`);
    await db.query(`select pgmq.send('caseq', '{"n":2}')`);
    await db.query(`select pgmq.send('CASEQ', '{"n":3}')`);
    const rows = await db.query(`select message from pgmq.read('cAsEq', 30, 10)`);
    expect(rows).toEqual([{ message: { n: 1 } }, { message: { n: 2 } }, { message: { n: 3 } }]);
  });
});

describe('pgmq.create', () => {
  it('records the queue in pgmq.meta as logged and not partitioned', async () => {
    await db.query(`select pgmq.create('plain')`);
    const rows = await db.query(`select queue_name, is_partitioned, is_unlogged from pgmq.meta where queue_name = 'plain'`);
    expect(rows).toEqual([{ queue_name: 'plain', is_partitioned: false, is_unlogged: false }]);
  });

  it('is idempotent: a second call keeps the same tables, the messages and one meta row', async () => {
    await db.query(`select pgmq.create('again')`);
    const [before] = await db.query<{ oid: number }>(`select 'pgmq.q_again'::regclass::oid as oid`);
    await db.query(`select pgmq.send('again', '{"kept":true}')`);
    await db.query(`select pgmq.create('again')`);
    await db.query(`select pgmq.create_non_partitioned('again')`);
    const [after] = await db.query<{ oid: number }>(`select 'pgmq.q_again'::regclass::oid as oid`);
    expect(after?.oid).toBe(before?.oid);
    expect(await db.query(`select message from pgmq.q_again`)).toEqual([{ message: { kept: true } }]);
    expect(await db.query(`select count(*)::int as n from pgmq.meta where queue_name = 'again'`)).toEqual([{ n: 1 }]);
  });

  it('is safe when a second session creates the same queue while the first has not committed', async () => {
    const first = await db.connect();
    const second = await db.connect();
    await first.query('begin');
    await first.query(`select pgmq.create('racing')`);
    const [{ pid }] = (await second.query<{ pid: number }>('select pg_backend_pid() as pid')).rows as [{ pid: number }];
    const secondCreate = second.query(`select pgmq.create('racing')`);
    // The second creator must be waiting on the queue's advisory lock, not failing or duplicating.
    let waiting = false;
    for (let attempt = 0; attempt < 100 && !waiting; attempt += 1) {
      const rows = await db.query(`select 1 from pg_locks where pid = $1 and locktype = 'advisory' and not granted`, [pid]);
      waiting = rows.length > 0;
      if (!waiting) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(waiting).toBe(true);
    await first.query('commit');
    await expect(secondCreate).resolves.toBeDefined();
    expect(await db.query(`select count(*)::int as n from pgmq.meta where queue_name = 'racing'`)).toEqual([{ n: 1 }]);
    await db.query(`select pgmq.send('racing', '{}')`);
  });

  it('lets many sessions create the same queues at once without errors', async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => db.connect()));
    const names = ['burst_a', 'burst_b', 'burst_c'];
    await Promise.all(
      clients.map(async (client) => {
        for (const name of names) await client.query(`select pgmq.create($1)`, [name]);
      }),
    );
    const rows = await db.query(`select queue_name from pgmq.meta where queue_name like 'burst_%' order by queue_name`);
    expect(rows).toEqual(names.map((queue_name) => ({ queue_name })));
  });
});
