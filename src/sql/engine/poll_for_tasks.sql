-- pgflow.poll_for_tasks(queue_name, vt, qty, max_poll_seconds, poll_interval_ms): deprecated; reads
-- messages with pgmq.read_with_poll and starts their tasks (no worker is recorded). Kept so that older
-- workers keep working; new workers use pgmq.read with pgflow.start_tasks, or pgflow.claim_tasks.
create or replace function pgflow.poll_for_tasks(
  queue_name text,
  vt integer,
  qty integer,
  max_poll_seconds integer default 5,
  poll_interval_ms integer default 100
)
returns setof pgflow.step_task_record
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_msg_ids bigint[];
begin
  -- It runs with its owner's rights: only the queues of pgflow's flows may be read.
  if not exists (select 1 from pgflow.flows f where f.flow_slug = poll_for_tasks.queue_name) then
    raise exception 'flow "%" does not exist', poll_for_tasks.queue_name using errcode = '42704';
  end if;
  v_msg_ids := array(
    select m.msg_id
    from pgmq.read_with_poll(
      poll_for_tasks.queue_name,
      poll_for_tasks.vt,
      poll_for_tasks.qty,
      poll_for_tasks.max_poll_seconds,
      poll_for_tasks.poll_interval_ms
    ) m
  );
  return query select * from pgflow.start_tasks(poll_for_tasks.queue_name, v_msg_ids, null);
end;
$$;
