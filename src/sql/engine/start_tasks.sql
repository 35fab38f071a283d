-- pgflow.start_tasks(flow_slug, msg_ids, worker_id): starts the tasks behind messages a worker has
-- read from the flow's queue (pgmq.read) and returns them with their input: {"run": <run input>,
-- <dep>: <output>} for each direct dependency.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent (the clock is past
-- started_at + timeout + 2 s). Each start counts an attempt, records the worker and hides the message
-- until timeout + 2 s from now. See pgflow.start_tasks_from_messages for the details and invariants.
create or replace function pgflow.start_tasks(
  flow_slug text,
  msg_ids bigint[],
  worker_id uuid
)
returns setof pgflow.step_task_record
language sql
security definer
set search_path = ''
as $$
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages($1, $2, $3, true) as started;
$$;
