-- pgmq.delete(queue_name, msg_id | msg_ids): removes messages from the queue for good.
-- Single form: true if the message existed, false if not. Array form: the ids actually deleted
-- (missing ids are left out, no error).
--
-- Invariants: only the queue table is touched (nothing is archived); a missing id is never an
-- error; an unknown queue is one: 42P01 (see pgmq._queue_table). One DELETE per call.
create or replace function pgmq.delete(queue_name text, msg_id bigint)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  deleted bigint;
begin
  execute format(
    'delete from pgmq.%I where msg_id = $1 returning msg_id',
    pgmq._queue_table(queue_name)
  )
  into deleted
  using msg_id;
  return deleted is not null;
end;
$$;

create or replace function pgmq.delete(queue_name text, msg_ids bigint[])
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'delete from pgmq.%I where msg_id = any($1) returning msg_id',
    pgmq._queue_table(queue_name)
  )
  using msg_ids;
end;
$$;
