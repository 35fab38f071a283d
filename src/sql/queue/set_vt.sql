-- pgmq.set_vt(queue_name, msg_id, vt): makes a message visible again `vt` seconds from now
-- (0 or a negative value: at once) and returns it; no row when the id does not exist.
--
-- Invariants: vt = clock_timestamp() + vt seconds, whether or not the message is currently
-- visible; read_ct is unchanged. An unknown queue fails with 42P01 (see pgmq._queue_table), a NULL
-- vt with 22004.
create or replace function pgmq.set_vt(
  queue_name text,
  msg_id bigint,
  vt integer
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
begin
  if vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  return query execute format(
    'update pgmq.%I as q
     set vt = clock_timestamp() + make_interval(secs => $2)
     where q.msg_id = $1
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq._queue_table(queue_name)
  )
  using msg_id, vt;
end;
$$;
