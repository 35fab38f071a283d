/**
 * Removing and inspecting: archive, delete, purge_queue, metrics, metrics_all,
 * list_queues, drop_queue, detach_archive, and the partitioned functions the
 * built-in queue refuses.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errorOf, queueName, useQueueDatabase, type MetricsResult } from './install.js';

const db = useQueueDatabase();

async function fresh(messages = 0, prefix = 'life'): Promise<string> {
  const name = queueName(prefix);
  await db.query(`select pgmq.create($1)`, [name]);
  if (messages > 0) {
    await db.query(`select pgmq.send_batch($1, array(select jsonb_build_object('n', i) from generate_series(1, $2::int) as i order by i))`, [name, messages]);
  }
  return name;
}

const ids = async (table: string) => (await db.query<{ msg_id: string }>(`select msg_id from pgmq.${table} order by msg_id`)).map((r) => r.msg_id);

/** Collects the NOTICE / WARNING messages a dedicated connection receives. */
async function noticeCollector(): Promise<{ client: pg.Client; notices: { severity: string; message: string }[] }> {
  const client = await db.connect();
  const notices: { severity: string; message: string }[] = [];
  client.on('notice', (notice) => notices.push({ severity: String(notice.severity), message: String(notice.message) }));
  return { client, notices };
}

describe('pgmq.archive', () => {
  it('moves one message to the archive with every column kept and archived_at set; true, then false', async () => {
    const q = await fresh(2);
    await db.query(`update pgmq.q_${q} set headers = '{"h":1}' where msg_id = 1`);
    await db.query(`select * from pgmq.read($1, 45, 1)`, [q]);
    const [before] = await db.query(`select msg_id, read_ct, enqueued_at, vt, message, headers from pgmq.q_${q} where msg_id = 1`);
    const client = await db.connect();
    await client.query('begin');
    const archived = await client.query(`select pgmq.archive($1, 1::bigint) as archived`, [q]);
    const [{ now }] = (await client.query<{ now: Date }>('select now()')).rows as [{ now: Date }];
    await client.query('commit');
    expect(archived.rows).toEqual([{ archived: true }]);
    expect(await ids(`q_${q}`)).toEqual(['2']);
    const [after] = await db.query(`select msg_id, read_ct, enqueued_at, vt, message, headers, archived_at from pgmq.a_${q}`);
    expect(after).toEqual({ ...before, archived_at: now });
    expect(before).toMatchObject({ msg_id: '1', read_ct: 1, message: { n: 1 }, headers: { h: 1 } });
    expect(await db.query(`select pgmq.archive($1, 1::bigint) as archived`, [q])).toEqual([{ archived: false }]);
    expect(await ids(`a_${q}`)).toEqual(['1']);
  });

  it('moves a batch and returns only the ids that existed', async () => {
    const q = await fresh(5);
    const returned = await db.query<{ archive: string }>(`select * from pgmq.archive($1, array[1, 3, 5, 99]::bigint[])`, [q]);
    expect(returned.map((r) => r.archive).sort()).toEqual(['1', '3', '5']);
    expect(await ids(`q_${q}`)).toEqual(['2', '4']);
    expect(await ids(`a_${q}`)).toEqual(['1', '3', '5']);
    const none = await db.query(`select * from pgmq.archive($1, array[1, 99]::bigint[])`, [q]);
    expect(none).toEqual([]);
    expect(await db.query(`select count(*)::int as n from pgmq.a_${q} where archived_at is null`)).toEqual([{ n: 0 }]);
  });

  it('accepts an array_agg of ids, as pgflow calls it', async () => {
    const q = await fresh(3);
    const rows = await db.query(`select count(*)::int as n from pgmq.archive($1, (select array_agg(msg_id) from pgmq.q_${q}))`, [q]);
    expect(rows).toEqual([{ n: 3 }]);
    expect(await ids(`q_${q}`)).toEqual([]);
  });
});

describe('pgmq.delete', () => {
  it('deletes one message for good: true, then false for the same id; nothing is archived', async () => {
    const q = await fresh(2);
    expect(await db.query(`select pgmq.delete($1, 2::bigint) as deleted`, [q])).toEqual([{ deleted: true }]);
    expect(await db.query(`select pgmq.delete($1, 2::bigint) as deleted`, [q])).toEqual([{ deleted: false }]);
    expect(await ids(`q_${q}`)).toEqual(['1']);
    expect(await ids(`a_${q}`)).toEqual([]);
  });

  it('deletes a batch and returns only the ids that existed', async () => {
    const q = await fresh(4);
    const returned = await db.query<{ delete: string }>(`select * from pgmq.delete($1, array[2, 4, 42]::bigint[])`, [q]);
    expect(returned.map((r) => r.delete).sort()).toEqual(['2', '4']);
    expect(await ids(`q_${q}`)).toEqual(['1', '3']);
    expect(await db.query(`select * from pgmq.delete($1, array[42]::bigint[])`, [q])).toEqual([]);
  });
});

describe('pgmq.purge_queue', () => {
  it('empties the queue, returns the count, keeps the archive, and does not restart msg_ids', async () => {
    const q = await fresh(6);
    await db.query(`select pgmq.archive($1, 1::bigint)`, [q]);
    expect(await db.query(`select pgmq.purge_queue($1) as purged`, [q])).toEqual([{ purged: '5' }]);
    expect(await ids(`q_${q}`)).toEqual([]);
    expect(await ids(`a_${q}`)).toEqual(['1']);
    expect(await db.query(`select * from pgmq.send($1, '{}')`, [q])).toEqual([{ send: '7' }]);
    expect(await db.query(`select pgmq.purge_queue($1) as purged`, [q])).toEqual([{ purged: '1' }]);
    expect(await db.query(`select pgmq.purge_queue($1) as purged`, [q])).toEqual([{ purged: '0' }]);
  });
});

describe('pgmq.metrics', () => {
  it('reports zeros and NULL ages for a new, empty queue', async () => {
    const q = await fresh();
    const [m] = await db.query<MetricsResult>(`select * from pgmq.metrics($1)`, [q]);
    expect(m).toMatchObject({
      queue_name: q,
      queue_length: '0',
      queue_visible_length: '0',
      newest_msg_age_sec: null,
      oldest_msg_age_sec: null,
      total_messages: '0',
    });
    expect(Object.keys(m!)).toEqual([
      'queue_name',
      'queue_length',
      'newest_msg_age_sec',
      'oldest_msg_age_sec',
      'total_messages',
      'scrape_time',
      'queue_visible_length',
    ]);
  });

  it('counts all and visible messages, ages, and total_messages as the highest id ever sent', async () => {
    const q = await fresh(4);
    await db.query(`select pgmq.send($1, '{"later":true}', 300)`, [q]);
    await db.query(`select * from pgmq.read($1, 300, 1)`, [q]);
    await db.query(`select pgmq.archive($1, 2::bigint)`, [q]);
    await db.query(`update pgmq.q_${q} set enqueued_at = now() - interval '100 seconds' where msg_id = 1`);
    await db.query(`update pgmq.q_${q} set enqueued_at = now() - interval '10 seconds' where msg_id <> 1`);
    const client = await db.connect();
    await client.query('begin');
    const [m] = (await client.query<MetricsResult>(`select * from pgmq.metrics($1)`, [q])).rows;
    const [{ now }] = (await client.query<{ now: Date }>('select now()')).rows as [{ now: Date }];
    await client.query('commit');
    // msg 1 read (invisible), 2 archived, 3 and 4 visible, 5 delayed.
    expect(m).toMatchObject({
      queue_name: q,
      queue_length: '4',
      queue_visible_length: '2',
      oldest_msg_age_sec: 100,
      newest_msg_age_sec: 10,
      total_messages: '5',
      scrape_time: now,
    });
    await db.query(`select pgmq.purge_queue($1)`, [q]);
    expect(await db.query(`select queue_length, total_messages from pgmq.metrics($1)`, [q])).toEqual([{ queue_length: '0', total_messages: '5' }]);
  });

  it('echoes the queue name as given', async () => {
    await db.query(`select pgmq.create('MetricCase')`);
    expect(await db.query(`select queue_name from pgmq.metrics('METRICCASE')`)).toEqual([{ queue_name: 'METRICCASE' }]);
  });

  it('fails on a queue that does not exist', async () => {
    const error = await errorOf(() => db.query(`select * from pgmq.metrics('not_a_queue')`));
    expect([error.code, error.message]).toEqual(['42P01', 'queue "not_a_queue" does not exist']);
  });
});

describe('pgmq.list_queues and pgmq.metrics_all', () => {
  it('list every queue once, with its kind, and metrics for each', async () => {
    const client = await db.connect();
    // A database of its own would be cleaner; here we only look at the queues this test creates.
    await client.query(`select pgmq.create('listed_a'), pgmq.create_unlogged('listed_b'), pgmq.create('Listed_C')`);
    await client.query(`select pgmq.send_batch('listed_b', array['{}', '{}']::jsonb[])`);
    const queues = (await client.query(`select * from pgmq.list_queues() where lower(queue_name) like 'listed_%'`)).rows;
    expect(queues.map(({ queue_name, is_partitioned, is_unlogged }) => ({ queue_name, is_partitioned, is_unlogged }))).toEqual([
      { queue_name: 'Listed_C', is_partitioned: false, is_unlogged: false },
      { queue_name: 'listed_a', is_partitioned: false, is_unlogged: false },
      { queue_name: 'listed_b', is_partitioned: false, is_unlogged: true },
    ]);
    for (const queue of queues) expect(queue.created_at).toBeInstanceOf(Date);
    const all = (await client.query<MetricsResult>(`select * from pgmq.metrics_all()`)).rows;
    const listedNames = (await client.query<{ queue_name: string }>(`select queue_name from pgmq.list_queues()`)).rows.map((r) => r.queue_name);
    expect(all.map((m) => m.queue_name)).toEqual(listedNames);
    expect(all.filter((m) => m.queue_name.toLowerCase().startsWith('listed_')).map((m) => [m.queue_name, m.queue_length])).toEqual([
      ['Listed_C', '0'],
      ['listed_a', '0'],
      ['listed_b', '2'],
    ]);
  });
});

describe('pgmq.drop_queue', () => {
  it('drops both tables, the sequence and the meta row, and returns true', async () => {
    const q = await fresh(2, 'drop');
    expect(await db.query(`select pgmq.drop_queue($1) as dropped`, [q])).toEqual([{ dropped: true }]);
    const left = await db.query(`select relname from pg_class where relnamespace = 'pgmq'::regnamespace and relname like '%' || $1 || '%'`, [q]);
    expect(left).toEqual([]);
    expect(await db.query(`select * from pgmq.list_queues() where queue_name = $1`, [q])).toEqual([]);
    expect(await db.query(`select * from pgmq.metrics_all() where queue_name = $1`, [q])).toEqual([]);
  });

  it('returns false with a NOTICE for a queue that does not exist', async () => {
    const { client, notices } = await noticeCollector();
    const result = await client.query(`select pgmq.drop_queue('never_created') as dropped`);
    expect(result.rows).toEqual([{ dropped: false }]);
    expect(notices).toEqual([{ severity: 'NOTICE', message: 'pgmq queue `never_created` does not exist' }]);
  });

  it('(queue_name, partitioned) is deprecated: warns, then drops', async () => {
    const q = await fresh(0, 'drop');
    const { client, notices } = await noticeCollector();
    expect((await client.query(`select pgmq.drop_queue($1, false) as dropped`, [q])).rows).toEqual([{ dropped: true }]);
    expect(notices.map((n) => n.severity)).toEqual(['WARNING']);
    expect(notices[0]!.message).toContain('deprecated');
    expect(await db.query(`select to_regclass($1) as t`, [`pgmq.q_${q}`])).toEqual([{ t: null }]);
  });

  it('drops a queue created with a mixed-case name when called in another case, meta row included', async () => {
    await db.query(`select pgmq.create('DropCase')`);
    expect(await db.query(`select pgmq.drop_queue('dropcase') as dropped`)).toEqual([{ dropped: true }]);
    expect(await db.query(`select to_regclass('pgmq.q_dropcase') as t`)).toEqual([{ t: null }]);
    expect(await db.query(`select * from pgmq.meta where lower(queue_name) = 'dropcase'`)).toEqual([]);
  });

  it('lets the queue be created again afresh', async () => {
    const q = await fresh(3, 'drop');
    await db.query(`select pgmq.drop_queue($1)`, [q]);
    await db.query(`select pgmq.create($1)`, [q]);
    expect(await db.query(`select * from pgmq.send($1, '{}')`, [q])).toEqual([{ send: '1' }]);
  });
});

describe('functions the built-in queue keeps for compatibility', () => {
  it('detach_archive warns it is deprecated and changes nothing', async () => {
    const q = await fresh(1);
    const { client, notices } = await noticeCollector();
    await client.query(`select pgmq.detach_archive($1)`, [q]);
    expect(notices.map((n) => n.severity)).toEqual(['WARNING']);
    expect(notices[0]!.message).toContain('deprecated');
    expect(await db.query(`select pgmq.archive($1, 1::bigint) as archived`, [q])).toEqual([{ archived: true }]);
    expect(await ids(`a_${q}`)).toEqual(['1']);
  });

  it('create_partitioned fails clearly (pg_partman and the real pgmq are needed) and creates nothing', async () => {
    const error = await errorOf(() => db.query(`select pgmq.create_partitioned('parted')`));
    expect(error.code).toBe('0A000');
    expect(error.message).toContain('partitioned queues are not supported by the built-in pgmq-compatible queue');
    expect(error.hint).toContain('pg_partman');
    expect(error.hint).toContain('pgmq extension');
    expect(await db.query(`select to_regclass('pgmq.q_parted') as t`)).toEqual([{ t: null }]);
    expect(await db.query(`select * from pgmq.meta where queue_name = 'parted'`)).toEqual([]);
  });

  it('convert_archive_partitioned fails clearly', async () => {
    const error = await errorOf(() => db.query(`select pgmq.convert_archive_partitioned('a_x')`));
    expect(error.code).toBe('0A000');
    expect(error.hint).toContain('pg_partman');
  });
});

describe('unknown queues', () => {
  // One shared check (pgmq._queue_table) in every function that works on one queue: the queue is
  // named, the SQLSTATE is the undefined_table of the pgmq extension's raw error, and nothing changes.
  it.each([
    [`select pgmq.send('ghost', '{}')`],
    [`select pgmq.send_batch('ghost', array['{}']::jsonb[])`],
    [`select pgmq.read('ghost', 1, 1)`],
    [`select pgmq.read_with_poll('ghost', 1, 1, 1, 10)`],
    [`select pgmq.pop('ghost')`],
    [`select pgmq.set_vt('ghost', 1, 1)`],
    [`select pgmq.delete('ghost', 1::bigint)`],
    [`select pgmq.delete('ghost', array[1]::bigint[])`],
    [`select pgmq.archive('ghost', 1::bigint)`],
    [`select pgmq.archive('ghost', array[1]::bigint[])`],
    [`select pgmq.purge_queue('ghost')`],
    [`select pgmq.metrics('ghost')`],
    [`select pgmq.read_with_poll('ghost', 1, 1, 0, 10)`],
  ])('%s fails with undefined_table, naming the queue', async (sql) => {
    const queuesBefore = await db.query(`select queue_name from pgmq.meta order by queue_name`);
    const error = await errorOf(() => db.query(sql));
    expect(error.code).toBe('42P01');
    expect(error.message).toBe('queue "ghost" does not exist');
    expect(error.hint).toBe(`Create it with pgmq.create('ghost'); pgmq.list_queues() lists the queues that exist.`);
    expect(await db.query(`select to_regclass('pgmq.q_ghost') is null as absent`)).toEqual([{ absent: true }]);
    expect(await db.query(`select queue_name from pgmq.meta order by queue_name`)).toEqual(queuesBefore);
  });

  it('names the queue as the caller spelled it, and refuses a NULL name with 22004', async () => {
    const error = await errorOf(() => db.query(`select * from pgmq.read('Ghost Queue', 30, 1)`));
    expect([error.code, error.message]).toEqual(['42P01', 'queue "Ghost Queue" does not exist']);
    for (const sql of [`select pgmq.send(null, '{}')`, `select * from pgmq.read(null, 30, 1)`, `select pgmq.metrics(null)`]) {
      const nullName = await errorOf(() => db.query(sql));
      expect([nullName.code, nullName.message], sql).toEqual(['22004', 'queue name must not be NULL']);
    }
  });

  it('a queue dropped after use is unknown again, and one created again is known', async () => {
    const q = await fresh(1);
    await db.query(`select pgmq.drop_queue($1)`, [q]);
    expect((await errorOf(() => db.query(`select * from pgmq.read($1, 30, 1)`, [q]))).message).toBe(`queue "${q}" does not exist`);
    await db.query(`select pgmq.create($1)`, [q]);
    expect(await db.query(`select * from pgmq.read($1, 30, 1)`, [q])).toEqual([]);
  });
});
