/**
 * pgmq.send and pgmq.send_batch, all six overloads each: returned ids,
 * stored message and headers, visibility time, batch order.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf, queueName, useQueueDatabase } from './install.js';

const db = useQueueDatabase();

interface StoredRow {
  msg_id: string;
  read_ct: number;
  message: unknown;
  headers: unknown;
  /** vt - clock at the time of the check, in seconds. */
  vt_in: number;
  vt: Date;
  enqueued_at: Date;
}

async function stored(queue: string): Promise<StoredRow[]> {
  return db.query<StoredRow>(
    `select msg_id, read_ct, message, headers, vt, enqueued_at,
            extract(epoch from vt - clock_timestamp())::float8 as vt_in
     from pgmq.q_${queue} order by msg_id`,
  );
}

async function fresh(): Promise<string> {
  const name = queueName('send');
  await db.query(`select pgmq.create($1)`, [name]);
  return name;
}

describe('pgmq.send', () => {
  it('(queue, msg): returns the new msg_id in a column named send; visible at once, read_ct 0, no headers', async () => {
    const q = await fresh();
    const first = await db.query(`select * from pgmq.send($1, '{"a":1}')`, [q]);
    const second = await db.query(`select * from pgmq.send($1, '{"a":2}')`, [q]);
    expect(first).toEqual([{ send: '1' }]);
    expect(second).toEqual([{ send: '2' }]);
    const rows = await stored(q);
    expect(rows.map(({ msg_id, read_ct, message, headers }) => ({ msg_id, read_ct, message, headers }))).toEqual([
      { msg_id: '1', read_ct: 0, message: { a: 1 }, headers: null },
      { msg_id: '2', read_ct: 0, message: { a: 2 }, headers: null },
    ]);
    for (const row of rows) expect(row.vt_in).toBeLessThanOrEqual(0);
  });

  it('(queue, msg, headers jsonb): stores the headers', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1, '{"a":1}', '{"trace":"t-1"}'::jsonb)`, [q]);
    const [row] = await stored(q);
    expect(row).toMatchObject({ message: { a: 1 }, headers: { trace: 't-1' } });
    expect(row!.vt_in).toBeLessThanOrEqual(0);
  });

  it('(queue, msg, delay integer): hides the message for delay seconds', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1, '{"a":1}', 60)`, [q]);
    const [row] = await stored(q);
    expect(row).toMatchObject({ message: { a: 1 }, headers: null });
    expect(row!.vt_in).toBeGreaterThan(55);
    expect(row!.vt_in).toBeLessThanOrEqual(60);
    expect(await db.query(`select * from pgmq.read($1, 30, 10)`, [q])).toEqual([]);
  });

  it('(queue, msg, delay timestamptz): uses that exact time as vt, even in the past', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1, '{"future":true}', '2999-01-01T00:00:00Z'::timestamptz)`, [q]);
    await db.query(`select pgmq.send($1, '{"past":true}', '2000-01-01T00:00:00Z'::timestamptz)`, [q]);
    const rows = await stored(q);
    expect(rows.map((row) => row.vt.toISOString())).toEqual(['2999-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z']);
    const read = await db.query(`select msg_id, message from pgmq.read($1, 30, 10)`, [q]);
    expect(read).toEqual([{ msg_id: '2', message: { past: true } }]);
  });

  it('(queue, msg, headers, delay integer) and (queue, msg, headers, delay timestamptz): headers and delay together', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1, '{"n":1}', '{"h":1}'::jsonb, 60)`, [q]);
    await db.query(`select pgmq.send($1, '{"n":2}', '{"h":2}'::jsonb, '2999-01-01T00:00:00Z'::timestamptz)`, [q]);
    const rows = await stored(q);
    expect(rows.map(({ message, headers }) => ({ message, headers }))).toEqual([
      { message: { n: 1 }, headers: { h: 1 } },
      { message: { n: 2 }, headers: { h: 2 } },
    ]);
    expect(rows[0]!.vt_in).toBeGreaterThan(55);
    expect(rows[1]!.vt.toISOString()).toBe('2999-01-01T00:00:00.000Z');
  });

  it('resolves the integer overload for a driver parameter cast to int, as pgflow calls it', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1::text, $2::jsonb, $3::int)`, [q, JSON.stringify({ step: 's' }), 30]);
    const [row] = await stored(q);
    expect(row!.vt_in).toBeGreaterThan(25);
  });

  it('sets enqueued_at to the transaction time and vt to the clock time', async () => {
    const q = await fresh();
    const client = await db.connect();
    await client.query('begin');
    await client.query(`select pgmq.send($1, '{}')`, [q]);
    await client.query(`select pg_sleep(0.02)`);
    await client.query(`select pgmq.send($1, '{}')`, [q]);
    const [{ now }] = (await client.query<{ now: Date }>('select now()')).rows as [{ now: Date }];
    await client.query('commit');
    const [a, b] = await stored(q);
    expect(a!.enqueued_at).toEqual(now);
    expect(b!.enqueued_at).toEqual(now);
    expect(b!.vt.getTime()).toBeGreaterThan(a!.vt.getTime());
    expect(a!.vt.getTime()).toBeGreaterThanOrEqual(now.getTime());
  });

  it('cannot resolve a bare NULL third argument (ambiguous overloads, as in pgmq)', async () => {
    const q = await fresh();
    const error = await errorOf(() => db.query(`select pgmq.send($1, '{}', null)`, [q]));
    expect(error.message).toContain('is not unique');
  });

  it('fails on a queue that does not exist', async () => {
    const error = await errorOf(() => db.query(`select pgmq.send('no_such_queue', '{}')`));
    expect(error.code).toBe('42P01');
    expect(error.message).toBe('queue "no_such_queue" does not exist');
  });

  it('refuses a NULL delay in every overload that takes one, and stores nothing', async () => {
    const q = await fresh();
    for (const sql of [
      `select pgmq.send($1, '{}', null::integer)`,
      `select pgmq.send($1, '{}', null::timestamptz)`,
      `select pgmq.send($1, '{}', '{}'::jsonb, null::integer)`,
      `select pgmq.send($1, '{}', '{}'::jsonb, null::timestamptz)`,
      `select pgmq.send_batch($1, array['{}']::jsonb[], null::integer)`,
      `select pgmq.send_batch($1, array['{}']::jsonb[], null::timestamptz)`,
      `select pgmq.send_batch($1, array['{}']::jsonb[], null::jsonb[], null::integer)`,
    ]) {
      const error = await errorOf(() => db.query(sql, [q]));
      expect([error.code, error.message], sql).toEqual(['22004', 'delay must not be NULL']);
    }
    expect(await stored(q)).toEqual([]);
  });
});

describe('pgmq.send_batch', () => {
  let q: string;
  beforeAll(async () => {
    q = await fresh();
  });

  it('(queue, msgs): returns one id per message, in input order, all visible at once', async () => {
    const msgs = Array.from({ length: 5 }, (_, i) => JSON.stringify({ i }));
    const ids = (await db.query<{ send_batch: string }>(`select * from pgmq.send_batch($1, $2::jsonb[])`, [q, msgs])).map((r) => r.send_batch);
    expect(ids).toHaveLength(5);
    const rows = await db.query<{ msg_id: string; message: { i: number }; headers: unknown }>(
      `select msg_id, message, headers from pgmq.q_${q} where msg_id = any($1::bigint[])`,
      [ids],
    );
    const byId = new Map(rows.map((row) => [row.msg_id, row]));
    ids.forEach((id, position) => {
      expect(byId.get(id)?.message).toEqual({ i: position });
      expect(byId.get(id)?.headers).toBeNull();
    });
    expect(ids.map(Number)).toEqual([...ids.map(Number)].sort((a, b) => a - b));
  });

  it('keeps input order for a large batch matched WITH ORDINALITY, as pgflow does', async () => {
    const msgs = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ i }));
    const sent = await db.query<{ msg_id: string; position: string }>(
      `select sent.msg_id, sent.position from pgmq.send_batch($1, $2::jsonb[]) with ordinality as sent(msg_id, position)`,
      [q, msgs],
    );
    expect(sent).toHaveLength(1000);
    const rows = await db.query<{ msg_id: string; message: { i: number } }>(
      `select msg_id, message from pgmq.q_${q} where msg_id = any($1::bigint[])`,
      [sent.map((row) => row.msg_id)],
    );
    const byId = new Map(rows.map((row) => [row.msg_id, row.message.i]));
    const mismatches = sent.filter((row) => byId.get(row.msg_id) !== Number(row.position) - 1);
    expect(mismatches).toEqual([]);
  });

  it('(queue, msgs, headers): pairs headers by position and pads the shorter array with NULL', async () => {
    const b = await fresh();
    await db.query(`select pgmq.send_batch($1, array['{"m":1}', '{"m":2}', '{"m":3}']::jsonb[], array['{"h":1}', '{"h":2}']::jsonb[])`, [b]);
    await db.query(`select pgmq.send_batch($1, array['{"m":4}']::jsonb[], array['{"h":4}', '{"h":5}']::jsonb[])`, [b]);
    await db.query(`select pgmq.send_batch($1, array['{"m":6}']::jsonb[], null::jsonb[])`, [b]);
    const rows = await stored(b);
    expect(rows.map(({ message, headers }) => ({ message, headers }))).toEqual([
      { message: { m: 1 }, headers: { h: 1 } },
      { message: { m: 2 }, headers: { h: 2 } },
      { message: { m: 3 }, headers: null },
      { message: { m: 4 }, headers: { h: 4 } },
      { message: null, headers: { h: 5 } },
      { message: { m: 6 }, headers: null },
    ]);
  });

  it('(queue, msgs, delay integer): every message shares one vt, delay seconds ahead', async () => {
    const b = await fresh();
    const ids = await db.query(`select * from pgmq.send_batch($1, array['{"m":1}', '{"m":2}']::jsonb[], 60)`, [b]);
    expect(ids).toEqual([{ send_batch: '1' }, { send_batch: '2' }]);
    const rows = await stored(b);
    expect(rows[0]!.vt).toEqual(rows[1]!.vt);
    expect(rows[0]!.vt_in).toBeGreaterThan(55);
    expect(await db.query(`select * from pgmq.read($1, 30, 10)`, [b])).toEqual([]);
  });

  it('(queue, msgs, delay timestamptz), (queue, msgs, headers, delay integer), (queue, msgs, headers, delay timestamptz)', async () => {
    const b = await fresh();
    await db.query(`select pgmq.send_batch($1, array['{"m":1}']::jsonb[], '2999-01-01T00:00:00Z'::timestamptz)`, [b]);
    await db.query(`select pgmq.send_batch($1, array['{"m":2}']::jsonb[], array['{"h":2}']::jsonb[], 60)`, [b]);
    await db.query(`select pgmq.send_batch($1, array['{"m":3}']::jsonb[], array['{"h":3}']::jsonb[], '2000-01-01T00:00:00Z'::timestamptz)`, [b]);
    const rows = await stored(b);
    expect(rows.map(({ msg_id, message, headers }) => ({ msg_id, message, headers }))).toEqual([
      { msg_id: '1', message: { m: 1 }, headers: null },
      { msg_id: '2', message: { m: 2 }, headers: { h: 2 } },
      { msg_id: '3', message: { m: 3 }, headers: { h: 3 } },
    ]);
    expect(rows[0]!.vt.toISOString()).toBe('2999-01-01T00:00:00.000Z');
    expect(rows[1]!.vt_in).toBeGreaterThan(55);
    expect(rows[2]!.vt.toISOString()).toBe('2000-01-01T00:00:00.000Z');
  });

  it('returns nothing and inserts nothing for an empty array', async () => {
    const b = await fresh();
    expect(await db.query(`select * from pgmq.send_batch($1, '{}'::jsonb[])`, [b])).toEqual([]);
    expect(await stored(b)).toEqual([]);
  });
});
