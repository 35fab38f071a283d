-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the task (task_index 0) of each
-- given step, which the caller has just marked `started`, together with its queue message
-- {flow_slug, run_id, step_slug, task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created together, in one send_batch per queue and delay
-- whose ids come back in message order. Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_batch record;
begin
  for v_batch in
    select t.flow_slug,
      coalesce(step.opt_start_delay, 0) as delay,
      array_agg(t.run_id order by t.ord) as run_ids,
      array_agg(t.step_slug order by t.ord) as step_slugs
    from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
        with ordinality as t(flow_slug, run_id, step_slug, ord)
    join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
    group by t.flow_slug, coalesce(step.opt_start_delay, 0)
  loop
    insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
    select v_batch.flow_slug, task.run_id, task.step_slug, 0, message.msg_id
    from unnest(v_batch.run_ids, v_batch.step_slugs) with ordinality as task(run_id, step_slug, ord)
    join pgmq.send_batch(
      v_batch.flow_slug,
      array(
        select jsonb_build_object('flow_slug', v_batch.flow_slug, 'run_id', m.run_id, 'step_slug', m.step_slug, 'task_index', 0)
        from unnest(v_batch.run_ids, v_batch.step_slugs) with ordinality as m(run_id, step_slug, ord)
        order by m.ord
      ),
      v_batch.delay
    ) with ordinality as message(msg_id, ord) on message.ord = task.ord;
  end loop;
end;
$$;
