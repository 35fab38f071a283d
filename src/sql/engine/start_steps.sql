-- pgflow.start_steps(run_ids, step_slugs): starts the given steps, pairing run_ids[i] with
-- step_slugs[i]. Each step becomes `started` and gets its task (task_index 0) with a queue message
-- {flow_slug, run_id, step_slug, task_index}, visible after the step's opt_start_delay seconds.
-- Returns how many steps it started.
--
-- Invariants: only steps that are still `created`, wait for no dependency and belong to a `started`
-- run are touched, so a step is never started twice; a task and its message are created together.
-- Callers hold the runs' row locks.
create or replace function pgflow.start_steps(run_ids uuid[], step_slugs text[])
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_flows text[];
  v_runs uuid[];
  v_steps text[];
  v_delays integer[];
  v_batch record;
begin
  with started as (
    update pgflow.step_states s
    set status = 'started',
        started_at = now(),
        remaining_tasks = s.initial_tasks
    from unnest(start_steps.run_ids, start_steps.step_slugs) as ready(run_id, step_slug),
      pgflow.runs r
    where s.run_id = ready.run_id
      and s.step_slug = ready.step_slug
      and s.status = 'created'
      and s.remaining_deps = 0
      and r.run_id = s.run_id
      and r.status = 'started'
    returning s.flow_slug, s.run_id, s.step_slug
  )
  select array_agg(started.flow_slug), array_agg(started.run_id), array_agg(started.step_slug),
    array_agg(coalesce(step.opt_start_delay, 0))
  into v_flows, v_runs, v_steps, v_delays
  from started
  join pgflow.steps step on step.flow_slug = started.flow_slug and step.step_slug = started.step_slug;

  if v_runs is null then
    return 0;
  end if;

  -- One send_batch per queue and delay; its ids come back in the order of the messages.
  for v_batch in
    select t.flow_slug, t.delay, array_agg(t.run_id order by t.ord) as run_ids, array_agg(t.step_slug order by t.ord) as step_slugs
    from unnest(v_flows, v_runs, v_steps, v_delays) with ordinality as t(flow_slug, run_id, step_slug, delay, ord)
    group by t.flow_slug, t.delay
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

  return cardinality(v_runs);
end;
$$;
