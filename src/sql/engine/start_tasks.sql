-- pgflow.start_tasks(flow_slug, msg_ids, worker_id): starts the tasks behind messages a worker has
-- read from the flow's queue (pgmq.read) and returns them with their input: {"run": <run input>,
-- <dep>: <output>} for each direct dependency.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent (the clock is past
-- started_at + timeout + 2 s). Each start counts an attempt, records the worker and hides the message
-- until timeout + 2 s from now. See pgflow.start_tasks_from_messages for the details and invariants.
-- A NULL worker_id is refused (22004) before anything changes: every start records its worker.
create or replace function pgflow.start_tasks(
  flow_slug text,
  msg_ids bigint[],
  worker_id uuid
)
returns setof pgflow.step_task_record
language plpgsql
security definer
set search_path = ''
as $$
begin
  if start_tasks.worker_id is null then
    raise exception 'worker_id must not be NULL'
      using errcode = '22004',
            hint = 'Pass the worker''s id: any UUID, registered on first use (or with pgflow.register_worker).';
  end if;
  return query
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id, true) as started;
end;
$$;
