-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the tasks of each given step, which
-- the caller has just marked `started` — task_index 0 for a single step, 0 … n-1 for a map of n
-- elements (the step's initial_tasks) — each with its queue message {flow_slug, run_id, step_slug,
-- task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created by the same statement, one message per task, so
-- neither exists without the other. Messages go out in one pgmq.send_batch per queue and delay (ids
-- come back in message order), which costs far less per message than one send each, also for a map
-- of many thousand elements. Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
  select batch.flow_slug, batch.run_ids[message.ord], batch.step_slugs[message.ord], batch.task_indexes[message.ord], message.msg_id
  from (
    select t.flow_slug,
      coalesce(step.opt_start_delay, 0) as delay,
      array_agg(t.run_id order by t.ord, task.task_index) as run_ids,
      array_agg(t.step_slug order by t.ord, task.task_index) as step_slugs,
      array_agg(task.task_index order by t.ord, task.task_index) as task_indexes
    from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
        with ordinality as t(flow_slug, run_id, step_slug, ord)
    join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
    cross join lateral generate_series(
      0,
      case
        when step.step_type = 'single' then 0
        else (select s.initial_tasks - 1 from pgflow.step_states s where s.run_id = t.run_id and s.step_slug = t.step_slug)
      end
    ) as task(task_index)
    group by t.flow_slug, coalesce(step.opt_start_delay, 0)
  ) batch
  cross join lateral pgmq.send_batch(
    batch.flow_slug,
    array(
      select jsonb_build_object('flow_slug', batch.flow_slug, 'run_id', m.run_id, 'step_slug', m.step_slug, 'task_index', m.task_index)
      from unnest(batch.run_ids, batch.step_slugs, batch.task_indexes) with ordinality as m(run_id, step_slug, task_index, ord)
      order by m.ord
    ),
    null::jsonb[],
    clock_timestamp() + make_interval(secs => batch.delay)
  ) with ordinality as message(msg_id, ord);
end;
$$;
