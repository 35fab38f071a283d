/**
 * Concurrent consumers on separate connections: FOR UPDATE SKIP LOCKED must
 * hand every visible message to exactly one of them.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { queueName, useQueueDatabase } from './install.js';

const db = useQueueDatabase();

async function fill(count: number): Promise<string> {
  const q = queueName('conc');
  await db.query(`select pgmq.create($1)`, [q]);
  await db.query(`select pgmq.send_batch($1, array(select jsonb_build_object('n', i) from generate_series(1, $2::int) as i order by i))`, [q, count]);
  return q;
}

/** Calls `take` on one connection until it returns no ids; returns every id it got. */
async function drain(client: pg.Client, take: (client: pg.Client) => Promise<string[]>): Promise<string[]> {
  const got: string[] = [];
  for (;;) {
    const ids = await take(client);
    if (ids.length === 0) return got;
    got.push(...ids);
  }
}

function expectEachIdOnce(perReader: string[][], count: number) {
  const all = perReader.flat();
  expect(all).toHaveLength(count);
  expect(new Set(all).size).toBe(count);
  expect([...all].map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
}

describe('concurrent consumers', () => {
  it('4 readers looping read(qty 7) on separate connections receive every message exactly once', async () => {
    const q = await fill(200);
    const readers = await Promise.all(Array.from({ length: 4 }, () => db.connect()));
    const perReader = await Promise.all(
      readers.map((client) =>
        drain(client, async (c) => (await c.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 60, 7)`, [q])).rows.map((r) => r.msg_id)),
      ),
    );
    expectEachIdOnce(perReader, 200);
    // Every message was delivered once: read_ct is 1 everywhere.
    expect(await db.query(`select read_ct, count(*)::int as n from pgmq.q_${q} group by read_ct`)).toEqual([{ read_ct: 1, n: 200 }]);
  });

  it('readers holding their claim in an open transaction do not block others, which skip to other messages', async () => {
    const q = await fill(20);
    const holder = await db.connect();
    await holder.query('begin');
    const held = (await holder.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 60, 5)`, [q])).rows.map((r) => r.msg_id);
    expect(held).toEqual(['1', '2', '3', '4', '5']);
    // Uncommitted, those rows are still visible to others' snapshots but locked: a second reader must skip them.
    const other = await db.connect();
    await other.query(`set lock_timeout = '2s'`);
    const got = (await other.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 60, 5)`, [q])).rows.map((r) => r.msg_id);
    expect(got).toEqual(['6', '7', '8', '9', '10']);
    await holder.query('rollback');
    // Rolled back, the first five are visible again.
    const again = (await other.query<{ msg_id: string }>(`select msg_id from pgmq.read($1, 60, 10)`, [q])).rows.map((r) => r.msg_id);
    expect(again).toEqual(['1', '2', '3', '4', '5', '11', '12', '13', '14', '15']);
  });

  it('4 poppers on separate connections pop every message exactly once', async () => {
    const q = await fill(60);
    const poppers = await Promise.all(Array.from({ length: 4 }, () => db.connect()));
    const perPopper = await Promise.all(
      poppers.map((client) =>
        drain(client, async (c) => (await c.query<{ msg_id: string }>(`select msg_id from pgmq.pop($1)`, [q])).rows.map((r) => r.msg_id)),
      ),
    );
    expectEachIdOnce(perPopper, 60);
    expect(await db.query(`select count(*)::int as n from pgmq.q_${q}`)).toEqual([{ n: 0 }]);
  });

  it('pop skips a message popped by a transaction that has not committed yet, instead of waiting for it', async () => {
    const q = await fill(3);
    const holder = await db.connect();
    await holder.query('begin');
    expect((await holder.query(`select msg_id from pgmq.pop($1)`, [q])).rows).toEqual([{ msg_id: '1' }]);
    const other = await db.connect();
    await other.query(`set lock_timeout = '2s'`);
    expect((await other.query(`select msg_id from pgmq.pop($1)`, [q])).rows).toEqual([{ msg_id: '2' }]);
    await holder.query('rollback');
    expect((await other.query(`select msg_id from pgmq.pop($1)`, [q])).rows).toEqual([{ msg_id: '1' }]);
  });

  it('4 pollers waiting on an empty queue share a later batch without duplicates', async () => {
    const q = queueName('conc');
    await db.query(`select pgmq.create($1)`, [q]);
    const pollers = await Promise.all(Array.from({ length: 4 }, () => db.connect()));
    const polls = pollers.map((client) =>
      client.query<{ msg_id: string }>(`select msg_id from pgmq.read_with_poll($1, 60, 2, 5, 20)`, [q]).then((r) => r.rows.map((row) => row.msg_id)),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await db.query(`select pgmq.send_batch($1, array(select jsonb_build_object('n', i) from generate_series(1, 8) as i order by i))`, [q]);
    expectEachIdOnce(await Promise.all(polls), 8);
  });
});
