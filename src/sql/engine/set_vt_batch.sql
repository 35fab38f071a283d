-- pgflow.set_vt_batch(queue_name, msg_ids, vt_offsets): makes each message msg_ids[i] of the queue
-- invisible for vt_offsets[i] more seconds, in one statement; returns the updated messages.
--
-- Invariants: works on the queue table layout shared by the pgmq extension and the built-in queue;
-- read_ct is untouched; arrays of different lengths are an error; only a flow's queue is accepted,
-- since the function runs with its owner's rights (security definer). A NULL offset is refused (22004,
-- naming its position) before any message moves; a negative offset makes the message visible at once,
-- as pgmq.set_vt does.
create or replace function pgflow.set_vt_batch(
  queue_name text,
  msg_ids bigint[],
  vt_offsets integer[]
)
returns table (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamp with time zone,
  vt timestamp with time zone,
  message jsonb,
  headers jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_null_at integer;
begin
  -- It runs with its owner's rights (so a worker role needs no rights on the queue tables): only the
  -- queues of pgflow's flows may be touched.
  if not exists (select 1 from pgflow.flows f where f.flow_slug = set_vt_batch.queue_name) then
    raise exception 'queue "%" is not the queue of a pgflow flow', set_vt_batch.queue_name using errcode = '42704';
  end if;
  if set_vt_batch.msg_ids is null or set_vt_batch.vt_offsets is null or cardinality(set_vt_batch.msg_ids) = 0 then
    return;
  end if;
  if cardinality(set_vt_batch.msg_ids) <> cardinality(set_vt_batch.vt_offsets) then
    raise exception 'msg_ids length (%) must equal vt_offsets length (%)',
      cardinality(set_vt_batch.msg_ids), cardinality(set_vt_batch.vt_offsets)
      using errcode = '22023';
  end if;
  v_null_at := array_position(set_vt_batch.vt_offsets, null);
  if v_null_at is not null then
    raise exception 'vt_offsets[%] is NULL (for msg_id %)', v_null_at, set_vt_batch.msg_ids[v_null_at]
      using errcode = '22004';
  end if;
  return query execute format(
    $sql$
      update pgmq.%I as q
      set vt = clock_timestamp() + make_interval(secs => o.vt_offset)
      from unnest($1, $2) as o(msg_id, vt_offset)
      where q.msg_id = o.msg_id
      returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
    $sql$,
    pgmq.format_table_name(set_vt_batch.queue_name, 'q')
  ) using set_vt_batch.msg_ids, set_vt_batch.vt_offsets;
end;
$$;
