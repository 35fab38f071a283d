-- pgflow.complete_task(run_id, step_slug, task_index, output): completes one started task with its
-- output (any JSON value, or NULL) and moves the run forward; returns the completed task.
--
-- Invariants: those of pgflow.complete_tasks, which does the work. Completing a task that is not
-- `started`, or whose run has failed, changes nothing and returns no row.
create or replace function pgflow.complete_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  output jsonb
)
returns setof pgflow.step_tasks
language sql
set search_path = ''
as $$
  select * from pgflow.complete_tasks(array[$1], array[$2], array[$3], array[$4]);
$$;
