-- pgflow.step_task_record: one task handed to a worker by start_tasks, with the input it runs on.
create type pgflow.step_task_record as (
  flow_slug text,
  run_id uuid,
  step_slug text,
  input jsonb,
  msg_id bigint,
  task_index integer
);

-- pgflow.claimed_task: a task handed out by claim_tasks — the fields of step_task_record plus the
-- attempt that start counts (attempts_count), so a worker knows it without a second query.
create type pgflow.claimed_task as (
  flow_slug text,
  run_id uuid,
  step_slug text,
  input jsonb,
  msg_id bigint,
  task_index integer,
  attempts_count integer
);
