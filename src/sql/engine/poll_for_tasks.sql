-- pgflow.poll_for_tasks(queue_name, vt, qty, max_poll_seconds, poll_interval_ms): deprecated; reads
-- messages with pgmq.read_with_poll and starts their tasks (no worker is recorded). Kept so that older
-- workers keep working; new workers use pgmq.read with pgflow.start_tasks, or pgflow.claim_tasks.
--
-- Invariants: only the queue of one of pgflow's flows is read (it runs with its owner's rights). The
-- arguments are checked here, before anything is read, so the engine behaves the same on the pgmq
-- extension as on the built-in queue: vt and poll_interval_ms must be 0 or more, qty 1 or more
-- (22023), and none of them, nor max_poll_seconds, may be NULL (22004) — a NULL would otherwise read
-- without limit, poll without end or fail on the queue table.
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
  if poll_for_tasks.vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.vt < 0 then
    raise exception 'vt must be 0 or more seconds, got %', poll_for_tasks.vt using errcode = '22023';
  end if;
  if poll_for_tasks.qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.qty < 1 then
    raise exception 'qty must be 1 or more, got %', poll_for_tasks.qty using errcode = '22023';
  end if;
  if poll_for_tasks.max_poll_seconds is null then
    raise exception 'max_poll_seconds must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.poll_interval_ms is null then
    raise exception 'poll_interval_ms must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.poll_interval_ms < 0 then
    raise exception 'poll_interval_ms must be 0 or more, got %', poll_for_tasks.poll_interval_ms using errcode = '22023';
  end if;
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
  -- No worker is recorded: start_tasks itself requires one.
  return query
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages(poll_for_tasks.queue_name, v_msg_ids, null, true) as started;
end;
$$;
