-- pgmq.read(queue_name, vt, qty, conditional): hands out up to `qty` visible messages, oldest
-- first, and hides them for `vt` seconds. A non-empty `conditional` only hands out messages whose
-- body contains it (jsonb @>); '{}' or NULL means no filter.
--
-- Invariants: rows are claimed with FOR UPDATE SKIP LOCKED, so concurrent readers never receive
-- the same visible message; each delivery sets vt = clock_timestamp() + vt seconds and
-- increments read_ct; the returned rows carry the new vt and read_ct, ordered by msg_id.
-- Refused before anything is read (SQLSTATE 22023, 22004 for NULL): a negative or NULL vt (the
-- pgmq extension would hand the messages out already visible again, or fail on the NOT NULL vt
-- column), a negative or NULL qty (NULL would mean no limit); an unknown queue fails with 42P01
-- (see pgmq._queue_table). qty 0 reads nothing, as in pgmq.
create or replace function pgmq.read(
  queue_name text,
  vt integer,
  qty integer,
  conditional jsonb default '{}'::jsonb
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
declare
  queue_table text;
begin
  perform pgmq._check_read_arguments(vt, qty);
  queue_table := pgmq._queue_table(queue_name);
  return query execute format(
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
  )
  using qty, vt, conditional;
end;
$$;
