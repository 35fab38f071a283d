-- pgmq.pop(queue_name): takes the oldest visible message off the queue for good: deletes it and
-- returns it (0 or 1 row).
--
-- Invariants: the row is claimed with FOR UPDATE SKIP LOCKED, so two concurrent pops never get
-- the same message; read_ct is not incremented and nothing is archived. An unknown queue fails
-- with 42P01 (see pgmq._queue_table).
create or replace function pgmq.pop(queue_name text)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'with claimed as (
       select q.msg_id
       from pgmq.%1$I as q
       where q.vt <= clock_timestamp()
       order by q.msg_id
       limit 1
       for update skip locked
     )
     delete from pgmq.%1$I as q
     using claimed
     where q.msg_id = claimed.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq._queue_table(queue_name)
  );
end;
$$;
