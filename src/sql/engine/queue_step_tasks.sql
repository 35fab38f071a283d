-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the task (task_index 0) of each
-- given step, which the caller has just marked `started`, together with its queue message
-- {flow_slug, run_id, step_slug, task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created by the same statement, one message per task, so
-- neither exists without the other. Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
  select t.flow_slug, t.run_id, t.step_slug, 0,
    (
      select pgmq.send(
        t.flow_slug,
        jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id, 'step_slug', t.step_slug, 'task_index', 0),
        null::jsonb,
        clock_timestamp() + make_interval(secs => coalesce(step.opt_start_delay, 0))
      )
    )
  from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
      with ordinality as t(flow_slug, run_id, step_slug, ord)
  join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
  order by t.ord;
end;
$$;
