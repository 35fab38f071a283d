-- pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms, conditional):
-- like pgmq.read, but when nothing is visible it retries every `poll_interval_ms` until
-- messages arrive or `max_poll_seconds` have passed, then returns what it got (maybe nothing).
--
-- Invariants: same claiming as pgmq.read (FOR UPDATE SKIP LOCKED, vt pushed forward, read_ct
-- incremented); each attempt runs in a fresh snapshot, so messages committed by other sessions
-- while polling are seen; the deadline is checked before every attempt, so
-- max_poll_seconds <= 0 returns nothing without reading.
create or replace function pgmq.read_with_poll(
  queue_name text,
  vt integer,
  qty integer,
  max_poll_seconds integer default 5,
  poll_interval_ms integer default 100,
  conditional jsonb default '{}'::jsonb
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  stop_at timestamp with time zone := clock_timestamp() + make_interval(secs => max_poll_seconds);
  read_sql text;
begin
  read_sql := format(
    'with claimed as (
       select q.msg_id
       from pgmq.%1$I as q
       where q.vt <= clock_timestamp()
         and ($3 is null or $3 = ''{}''::jsonb or q.message @> $3)
       order by q.msg_id
       limit $1
       for update skip locked
     ),
     delivered as (
       update pgmq.%1$I as q
       set vt = clock_timestamp() + make_interval(secs => $2),
         read_ct = q.read_ct + 1
       from claimed
       where q.msg_id = claimed.msg_id
       returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
     )
     select * from delivered order by msg_id',
    queue_table
  );
  loop
    if clock_timestamp() >= stop_at then
      return;
    end if;
    return query execute read_sql using qty, vt, conditional;
    if found then
      return;
    end if;
    perform pg_sleep(poll_interval_ms::numeric / 1000);
  end loop;
end;
$$;
