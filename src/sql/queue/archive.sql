-- pgmq.archive(queue_name, msg_id | msg_ids): moves messages from pgmq.q_<name> to
-- pgmq.a_<name>. Single form: true if the message existed, false if not. Array form: the ids
-- actually archived (missing ids are left out, no error).
--
-- Invariants: the move is one statement (DELETE ... RETURNING feeding INSERT), so a message is
-- never in both tables or in neither; msg_id, read_ct, enqueued_at, vt, message and headers are
-- kept; archived_at is the transaction time. An unknown queue fails with 42P01 (see
-- pgmq._queue_table).
create or replace function pgmq.archive(queue_name text, msg_id bigint)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  archived bigint;
begin
  execute format(
    'with moved as (
       delete from pgmq.%I
       where msg_id = $1
       returning msg_id, read_ct, enqueued_at, vt, message, headers
     )
     insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
     select msg_id, read_ct, enqueued_at, vt, message, headers from moved
     returning msg_id',
    pgmq._queue_table(queue_name),
    pgmq.format_table_name(queue_name, 'a')
  )
  into archived
  using msg_id;
  return archived is not null;
end;
$$;

create or replace function pgmq.archive(queue_name text, msg_ids bigint[])
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'with moved as (
       delete from pgmq.%I
       where msg_id = any($1)
       returning msg_id, read_ct, enqueued_at, vt, message, headers
     )
     insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
     select msg_id, read_ct, enqueued_at, vt, message, headers from moved
     returning msg_id',
    pgmq._queue_table(queue_name),
    pgmq.format_table_name(queue_name, 'a')
  )
  using msg_ids;
end;
$$;
