-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the tasks of each given step, which
-- the caller has just marked `started` — task_index 0 for a single step, 0 … n-1 for a map of n
-- elements (the step's initial_tasks) — each with its queue message {flow_slug, run_id, step_slug,
-- task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created in the same transaction, one message per task, so
-- neither exists without the other. The task list is read first, then each batch of messages is sent
-- and its tasks inserted by separate statements, so on Citus the inserts are routed by run_id and the
-- queue (a coordinator table) is written on the coordinator. Messages go out in one pgmq.send_batch per queue and delay (ids
-- come back in message order), which costs far less per message than one send each, also for a map
-- of many thousand elements. Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_batch record;
  v_msg_ids bigint[];
  v_map_runs uuid[];
  v_map_steps text[];
  v_sizes integer[];
begin
  -- A map step has one task per element: the size its step state recorded, read only for the map
  -- steps among the calls and by their run ids as values (so Citus reads only their runs' shards).
  select array_agg(t.run_id), array_agg(t.step_slug) into v_map_runs, v_map_steps
  from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs) as t(flow_slug, run_id, step_slug)
  join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
  where step.step_type = 'map';
  if v_map_runs is not null then
    select array_agg(s.run_id), array_agg(s.step_slug), array_agg(s.initial_tasks) into v_map_runs, v_map_steps, v_sizes
    from pgflow.step_states s
    where s.run_id = any(v_map_runs) and s.step_slug = any(v_map_steps);
  end if;

  for v_batch in
    with calls as (
      select t.flow_slug, t.run_id, t.step_slug, t.ord, step.step_type, coalesce(step.opt_start_delay, 0) as delay
      from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
          with ordinality as t(flow_slug, run_id, step_slug, ord)
      join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
    ),
    map_sizes as (
      select z.run_id, z.step_slug, z.initial_tasks
      from unnest(v_map_runs, v_map_steps, v_sizes) as z(run_id, step_slug, initial_tasks)
    )
    select c.flow_slug, c.delay,
      array_agg(c.run_id order by c.ord, task.task_index) as run_ids,
      array_agg(c.step_slug order by c.ord, task.task_index) as step_slugs,
      array_agg(task.task_index order by c.ord, task.task_index) as task_indexes
    from calls c
    left join map_sizes z on c.step_type = 'map' and z.run_id = c.run_id and z.step_slug = c.step_slug
    cross join lateral generate_series(0, case when c.step_type = 'single' then 0 else z.initial_tasks - 1 end) as task(task_index)
    group by c.flow_slug, c.delay
  loop
    select array_agg(message.msg_id order by message.ord) into v_msg_ids
    from pgmq.send_batch(
      v_batch.flow_slug,
      array(
        select jsonb_build_object('flow_slug', v_batch.flow_slug, 'run_id', m.run_id, 'step_slug', m.step_slug, 'task_index', m.task_index)
        from unnest(v_batch.run_ids, v_batch.step_slugs, v_batch.task_indexes) with ordinality as m(run_id, step_slug, task_index, ord)
        order by m.ord
      ),
      null::jsonb[],
      clock_timestamp() + make_interval(secs => v_batch.delay)
    ) with ordinality as message(msg_id, ord);

    insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
    select v_batch.flow_slug, m.run_id, m.step_slug, m.task_index, m.msg_id
    from unnest(v_batch.run_ids, v_batch.step_slugs, v_batch.task_indexes, v_msg_ids) as m(run_id, step_slug, task_index, msg_id);
  end loop;
end;
$$;
