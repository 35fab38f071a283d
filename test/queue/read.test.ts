/**
 * Consuming: pgmq.read (visibility, read_ct, qty, conditional), pgmq.set_vt,
 * pgmq.pop and pgmq.read_with_poll.
 */
import { describe, expect, it } from 'vitest';
import { errorOf, queueName, sleep, useQueueDatabase, type MessageRecord } from './install.js';

const db = useQueueDatabase();

async function fresh(messages = 0): Promise<string> {
  const name = queueName('read');
  await db.query(`select pgmq.create($1)`, [name]);
  if (messages > 0) {
    await db.query(`select pgmq.send_batch($1, array(select jsonb_build_object('n', i) from generate_series(1, $2::int) as i order by i))`, [name, messages]);
  }
  return name;
}

const read = (q: string, vt: number, qty: number) => db.query<MessageRecord>(`select * from pgmq.read($1, $2, $3)`, [q, vt, qty]);

async function row(q: string, msgId: string) {
  const [found] = await db.query<{ read_ct: number; vt_in: number }>(
    `select read_ct, extract(epoch from vt - clock_timestamp())::float8 as vt_in from pgmq.q_${q} where msg_id = $1`,
    [msgId],
  );
  return found;
}

describe('pgmq.read', () => {
  it('hands out up to qty visible messages, oldest first, with every message_record field', async () => {
    const q = await fresh(5);
    await db.query(`update pgmq.q_${q} set headers = '{"h":true}' where msg_id = 2`);
    const messages = await read(q, 30, 3);
    expect(messages.map((m) => [m.msg_id, m.message])).toEqual([
      ['1', { n: 1 }],
      ['2', { n: 2 }],
      ['3', { n: 3 }],
    ]);
    expect(Object.keys(messages[0]!)).toEqual(['msg_id', 'read_ct', 'enqueued_at', 'vt', 'message', 'headers']);
    expect(messages[1]!.headers).toEqual({ h: true });
    expect((await read(q, 30, 10)).map((m) => m.msg_id)).toEqual(['4', '5']);
    expect(await read(q, 30, 10)).toEqual([]);
  });

  it('hides what it hands out for vt seconds and increments read_ct, returning the new values', async () => {
    const q = await fresh(1);
    const [first] = await read(q, 60, 1);
    expect(first!.read_ct).toBe(1);
    const stored = await row(q, first!.msg_id);
    expect(stored).toMatchObject({ read_ct: 1 });
    expect(stored!.vt_in).toBeGreaterThan(55);
    const [{ vt }] = (await db.query<{ vt: Date }>(`select vt from pgmq.q_${q} where msg_id = $1`, [first!.msg_id])) as [{ vt: Date }];
    expect(first!.vt).toEqual(vt);
    expect(await read(q, 60, 1)).toEqual([]);
  });

  it('with vt 0 leaves the message visible, and read_ct counts every delivery', async () => {
    const q = await fresh(1);
    expect((await read(q, 0, 1)).map((m) => m.read_ct)).toEqual([1]);
    expect((await read(q, 0, 1)).map((m) => m.read_ct)).toEqual([2]);
    expect((await read(q, 0, 1)).map((m) => m.read_ct)).toEqual([3]);
  });

  it('makes a message visible again once its vt has passed', async () => {
    const q = await fresh(1);
    expect(await read(q, 1, 1)).toHaveLength(1);
    expect(await read(q, 1, 1)).toEqual([]);
    await sleep(1100);
    const again = await read(q, 30, 1);
    expect(again.map((m) => [m.msg_id, m.read_ct])).toEqual([['1', 2]]);
  });

  it('does not hand out a message sent with a delay until the delay has passed', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send($1, '{"late":true}', 1)`, [q]);
    expect(await read(q, 30, 1)).toEqual([]);
    await sleep(1100);
    expect((await read(q, 30, 1)).map((m) => m.message)).toEqual([{ late: true }]);
  });

  it('filters on the message body with conditional; {} and NULL mean no filter', async () => {
    const q = await fresh();
    await db.query(
      `select pgmq.send_batch($1, array['{"kind":"a","n":1}', '{"kind":"b","n":2}', '{"kind":"a","n":3}', '{"kind":"b","n":4}']::jsonb[])`,
      [q],
    );
    const onlyA = await db.query<MessageRecord>(`select * from pgmq.read($1, 30, 10, '{"kind":"a"}')`, [q]);
    expect(onlyA.map((m) => m.message)).toEqual([
      { kind: 'a', n: 1 },
      { kind: 'a', n: 3 },
    ]);
    const withNull = await db.query<MessageRecord>(`select * from pgmq.read($1, 30, 1, null)`, [q]);
    expect(withNull.map((m) => m.msg_id)).toEqual(['2']);
    const withEmpty = await db.query<MessageRecord>(`select * from pgmq.read($1, 30, 10, '{}')`, [q]);
    expect(withEmpty.map((m) => m.msg_id)).toEqual(['4']);
  });

  it('accepts named arguments and the three-argument call workers use', async () => {
    const q = await fresh(2);
    const named = await db.query<MessageRecord>(`select * from pgmq.read(queue_name => $1, vt => $2, qty => $3)`, [q, 30, 1]);
    expect(named.map((m) => m.msg_id)).toEqual(['1']);
    const positional = await db.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 60, 10)`, [q]);
    expect(positional).toEqual([{ msg_id: '2' }]);
  });

  it('can be collected into a message_record[] as in the reference worker loop', async () => {
    const q = await fresh(3);
    const client = await db.connect();
    const result = await client.query(
      `do $$
       declare
         v_messages pgmq.message_record[];
       begin
         select array_agg(m) into v_messages from pgmq.read('${q}', 60, 10) as m;
         perform set_config('test.count', array_length(v_messages, 1)::text, false);
       end $$`,
    );
    expect(result).toBeDefined();
    expect((await client.query(`select current_setting('test.count') as n`)).rows).toEqual([{ n: '3' }]);
  });

  it('fails on a queue that does not exist', async () => {
    const error = await errorOf(() => read('missing_queue', 30, 1));
    expect(error.code).toBe('42P01');
    expect(error.message).toBe('queue "missing_queue" does not exist');
  });

  it('with qty 0 hands out nothing and changes nothing, as pgmq does', async () => {
    const q = await fresh(2);
    expect(await read(q, 30, 0)).toEqual([]);
    expect(await visibleUnread(q)).toBe(2);
  });
});

/** Messages that are visible and were never read: what a refused call must leave as it was. */
async function visibleUnread(q: string): Promise<number> {
  const [{ n }] = (await db.query<{ n: number }>(`select count(*)::int as n from pgmq.q_${q} where read_ct = 0 and vt <= clock_timestamp()`)) as [{ n: number }];
  return n;
}

describe('bad arguments to read, read_with_poll and set_vt', () => {
  it.each([
    ['read with a negative vt', `select * from pgmq.read($1, -1, 1)`, '22023', 'vt must be 0 or more seconds, got -1'],
    ['read with a NULL vt', `select * from pgmq.read($1, null, 1)`, '22004', 'vt must not be NULL'],
    ['read with a negative qty', `select * from pgmq.read($1, 30, -5)`, '22023', 'qty must be 0 or more, got -5'],
    ['read with a NULL qty', `select * from pgmq.read($1, 30, null)`, '22004', 'qty must not be NULL'],
    ['read_with_poll with a negative vt', `select * from pgmq.read_with_poll($1, -30, 1, 1, 10)`, '22023', 'vt must be 0 or more seconds, got -30'],
    ['read_with_poll with a negative vt and no polling', `select * from pgmq.read_with_poll($1, -30, 1, 0, 10)`, '22023', 'vt must be 0 or more seconds, got -30'],
    ['read_with_poll with a negative qty', `select * from pgmq.read_with_poll($1, 30, -1, 1, 10)`, '22023', 'qty must be 0 or more, got -1'],
    ['read_with_poll with a NULL qty', `select * from pgmq.read_with_poll($1, 30, null, 1, 10)`, '22004', 'qty must not be NULL'],
    ['read_with_poll with a NULL max_poll_seconds', `select * from pgmq.read_with_poll($1, 30, 1, null, 10)`, '22004', 'max_poll_seconds must not be NULL'],
    ['read_with_poll with a NULL poll_interval_ms', `select * from pgmq.read_with_poll($1, 30, 1, 1, null)`, '22004', 'poll_interval_ms must not be NULL'],
    ['read_with_poll with a negative poll_interval_ms', `select * from pgmq.read_with_poll($1, 30, 1, 1, -100)`, '22023', 'poll_interval_ms must be 0 or more, got -100'],
    ['set_vt with a NULL vt', `select * from pgmq.set_vt($1, 1, null)`, '22004', 'vt must not be NULL'],
  ])('%s is refused with a clear error, and no message is read or moved', async (_what, sql, code, message) => {
    const q = await fresh(2);
    const before = await db.query(`select msg_id, read_ct, vt from pgmq.q_${q} order by msg_id`);
    const error = await errorOf(() => db.query(sql, [q]));
    expect([error.code, error.message]).toEqual([code, message]);
    expect(await db.query(`select msg_id, read_ct, vt from pgmq.q_${q} order by msg_id`)).toEqual(before);
    expect(await visibleUnread(q)).toBe(2);
  });

  it('a negative vt says what vt is for', async () => {
    const q = await fresh(1);
    const error = await errorOf(() => read(q, -1, 1));
    expect(error.hint).toBe('vt is how long the messages read stay hidden from other readers; 0 leaves them visible.');
  });

  it('set_vt still takes a negative vt, as pgmq does: the message is visible at once', async () => {
    const q = await fresh(1);
    await read(q, 300, 1);
    const [updated] = await db.query<MessageRecord>(`select * from pgmq.set_vt($1, 1, -10)`, [q]);
    expect(updated!.vt.getTime()).toBeLessThan(Date.now());
    expect((await read(q, 30, 1)).map((m) => [m.msg_id, m.read_ct])).toEqual([['1', 2]]);
  });
});

describe('pgmq.set_vt', () => {
  it('hides a visible message for vt seconds, keeps read_ct, and returns the updated message', async () => {
    const q = await fresh(1);
    const [updated] = await db.query<MessageRecord>(`select * from pgmq.set_vt($1, 1, 1)`, [q]);
    expect(updated).toMatchObject({ msg_id: '1', read_ct: 0, message: { n: 1 } });
    expect(await read(q, 30, 1)).toEqual([]);
    await sleep(1100);
    expect((await read(q, 30, 1)).map((m) => [m.msg_id, m.read_ct])).toEqual([['1', 1]]);
  });

  it('makes an invisible message visible at once with vt 0, without touching read_ct', async () => {
    const q = await fresh(1);
    await read(q, 300, 1);
    expect(await read(q, 300, 1)).toEqual([]);
    const [updated] = await db.query<MessageRecord>(`select * from pgmq.set_vt($1, 1, 0)`, [q]);
    expect(updated!.read_ct).toBe(1);
    expect((await read(q, 300, 1)).map((m) => [m.msg_id, m.read_ct])).toEqual([['1', 2]]);
  });

  it('can push vt far ahead of an already invisible message', async () => {
    const q = await fresh(1);
    await read(q, 5, 1);
    await db.query(`select pgmq.set_vt($1, 1, 3600)`, [q]);
    expect((await row(q, '1'))!.vt_in).toBeGreaterThan(3500);
  });

  it('returns no row for a missing msg_id', async () => {
    const q = await fresh(1);
    expect(await db.query(`select * from pgmq.set_vt($1, 999, 10)`, [q])).toEqual([]);
  });
});

describe('pgmq.pop', () => {
  it('returns and deletes the oldest visible message, without archiving or counting a read', async () => {
    const q = await fresh(3);
    await db.query(`select pgmq.set_vt($1, 1, 300)`, [q]);
    const popped = await db.query<MessageRecord>(`select * from pgmq.pop($1)`, [q]);
    expect(popped.map((m) => [m.msg_id, m.read_ct, m.message])).toEqual([['2', 0, { n: 2 }]]);
    expect(Object.keys(popped[0]!)).toEqual(['msg_id', 'read_ct', 'enqueued_at', 'vt', 'message', 'headers']);
    expect(await db.query(`select msg_id from pgmq.q_${q} order by msg_id`)).toEqual([{ msg_id: '1' }, { msg_id: '3' }]);
    expect(await db.query(`select msg_id from pgmq.a_${q}`)).toEqual([]);
  });

  it('returns nothing when no message is visible', async () => {
    const q = await fresh(1);
    await db.query(`select pgmq.set_vt($1, 1, 300)`, [q]);
    expect(await db.query(`select * from pgmq.pop($1)`, [q])).toEqual([]);
    expect(await db.query(`select count(*)::int as n from pgmq.q_${q}`)).toEqual([{ n: 1 }]);
  });
});

describe('pgmq.read_with_poll', () => {
  it('returns at once when messages are visible, claiming them like read', async () => {
    const q = await fresh(3);
    const messages = await db.query<MessageRecord>(`select * from pgmq.read_with_poll($1, 30, 2)`, [q]);
    expect(messages.map((m) => [m.msg_id, m.read_ct])).toEqual([
      ['1', 1],
      ['2', 1],
    ]);
    expect(await read(q, 30, 10)).toHaveLength(1);
  });

  it('waits for a message sent (and committed) by another session while it polls', async () => {
    const q = await fresh();
    const poller = await db.connect();
    const polling = poller.query<MessageRecord>(
      `select * from pgmq.read_with_poll(queue_name => $1, vt => $2, qty => $3, max_poll_seconds => $4, poll_interval_ms => $5)`,
      [q, 30, 5, 10, 50],
    );
    let settled = false;
    void polling.then(() => (settled = true), () => (settled = true));
    await sleep(300);
    expect(settled).toBe(false);
    await db.query(`select pgmq.send($1, '{"late":"arrival"}')`, [q]);
    const { rows } = await polling;
    expect(rows.map((m) => [m.msg_id, m.read_ct, m.message])).toEqual([['1', 1, { late: 'arrival' }]]);
  });

  it('returns nothing after max_poll_seconds when no message arrives', async () => {
    const q = await fresh();
    const started = Date.now();
    const rows = await db.query(`select * from pgmq.read_with_poll($1, 30, 1, 1, 50)`, [q]);
    expect(rows).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('with max_poll_seconds 0 returns nothing without reading, as pgmq does', async () => {
    const q = await fresh(1);
    expect(await db.query(`select * from pgmq.read_with_poll($1, 30, 1, 0)`, [q])).toEqual([]);
    expect(await row(q, '1')).toMatchObject({ read_ct: 0 });
  });

  it('applies conditional', async () => {
    const q = await fresh();
    await db.query(`select pgmq.send_batch($1, array['{"kind":"a"}', '{"kind":"b"}']::jsonb[])`, [q]);
    const rows = await db.query<MessageRecord>(`select * from pgmq.read_with_poll($1, 30, 5, 1, 50, '{"kind":"b"}')`, [q]);
    expect(rows.map((m) => m.message)).toEqual([{ kind: 'b' }]);
  });
});
