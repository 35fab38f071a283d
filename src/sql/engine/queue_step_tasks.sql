-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the task (task_index 0) of each
-- given step, which the caller has just marked `started`, together with its queue message
-- {flow_slug, run_id, step_slug, task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created by the same statement, one message per task, so
-- neither exists without the other. Messages go out in one pgmq.send_batch per queue and delay
-- (ids come back in message order), which costs far less per message than one send each.
-- Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
  select batch.flow_slug, batch.run_ids[message.ord], batch.step_slugs[message.ord], 0, message.msg_id
  from (
    select t.flow_slug,
      coalesce(step.opt_start_delay, 0) as delay,
      array_agg(t.run_id order by t.ord) as run_ids,
      array_agg(t.step_slug order by t.ord) as step_slugs
    from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
        with ordinality as t(flow_slug, run_id, step_slug, ord)
    join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
    group by t.flow_slug, coalesce(step.opt_start_delay, 0)
  ) batch
  cross join lateral pgmq.send_batch(
    batch.flow_slug,
    array(
      select jsonb_build_object('flow_slug', batch.flow_slug, 'run_id', m.run_id, 'step_slug', m.step_slug, 'task_index', 0)
      from unnest(batch.run_ids, batch.step_slugs) with ordinality as m(run_id, step_slug, ord)
      order by m.ord
    ),
    null::jsonb[],
    clock_timestamp() + make_interval(secs => batch.delay)
  ) with ordinality as message(msg_id, ord);
end;
$$;
