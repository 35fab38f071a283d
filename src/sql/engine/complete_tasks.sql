-- pgflow.complete_tasks(run_ids, step_slugs, task_indexes, outputs): the batched twin of
-- pgflow.complete_task. Completes many tasks in one call (element i of each array describes one task)
-- and moves their runs forward, as completing them one by one in that order would; returns the
-- completed tasks.
--
-- For each completed task: the output is stored and its message archived; a step whose tasks are all
-- done (one for a single step, one per element for a map) completes (step:completed), counts off its
-- run's remaining steps and its dependents' remaining dependencies; dependents left with none start
-- at once (see pgflow.advance_runs for maps and conditions); runs with no step left complete.
-- Invariants: run rows are locked first, in run_id order, so concurrent calls cannot deadlock and a
-- task is completed at most once: only `started` tasks of `started` runs change; others are skipped
-- and not returned. A task that does not exist is an error, and nothing of the call is kept.
-- Timestamps come from clock_timestamp(), so they never precede those of transactions that committed
-- while this one ran (a worker restarting a task, say).
create or replace function pgflow.complete_tasks(
  run_ids uuid[],
  step_slugs text[],
  task_indexes integer[],
  outputs jsonb[]
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_done pgflow.step_tasks[];
  v_missing record;
  v_archive record;
  v_step_runs uuid[];
  v_step_slugs text[];
  v_step_flows text[];
  v_ready_flows text[];
  v_ready_runs uuid[];
  v_ready_slugs text[];
  v_finished_runs uuid[];
  v_settle_runs uuid[];
  v_run_id uuid;
begin
  if cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.step_slugs)
    or cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.task_indexes)
    or cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.outputs) then
    raise exception 'complete_tasks needs arrays of equal length (run_ids %, step_slugs %, task_indexes %, outputs %)',
      cardinality(complete_tasks.run_ids), cardinality(complete_tasks.step_slugs),
      cardinality(complete_tasks.task_indexes), cardinality(complete_tasks.outputs)
      using errcode = '22023';
  end if;
  if coalesce(cardinality(complete_tasks.run_ids), 0) = 0 then
    return;
  end if;

  -- A distributed install (Citus) completes them one by one, each with pgflow.complete_task, whose
  -- statements name their run (Citus plans those on the run's node); the runs are locked first, one at a
  -- time in run_id order, so concurrent calls still cannot deadlock.
  if pgflow.on_citus() then
    for v_run_id in select distinct i.run_id from unnest(complete_tasks.run_ids) as i(run_id) order by i.run_id loop
      perform 1 from pgflow.runs r where r.run_id = v_run_id for update;
    end loop;
    return query
      select c.*
      from unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes, complete_tasks.outputs)
          with ordinality as i(run_id, step_slug, task_index, output, ord)
      cross join lateral pgflow.complete_task(i.run_id, i.step_slug, i.task_index, i.output) c
      order by i.ord;
    return;
  end if;

  perform 1 from pgflow.runs r where r.run_id = any(complete_tasks.run_ids) order by r.run_id for update;

  with done as (
    update pgflow.step_tasks t
    set status = 'completed', completed_at = clock_timestamp(), output = i.output
    from unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes, complete_tasks.outputs)
        with ordinality as i(run_id, step_slug, task_index, output, ord)
    where t.run_id = i.run_id
      and t.step_slug = i.step_slug
      and t.task_index = i.task_index
      and t.status = 'started'
      -- scalar subqueries keep every lookup on a primary key, whatever the table statistics say
      and (select r.status from pgflow.runs r where r.run_id = t.run_id) = 'started'
    returning t, i.ord
  )
  -- in the order the caller listed the tasks, so events follow that order
  select array_agg(done.t order by done.ord) into v_done from done;

  if coalesce(cardinality(v_done), 0) < cardinality(complete_tasks.run_ids) then
    select i.run_id, i.step_slug, i.task_index into v_missing
    from unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes) as i(run_id, step_slug, task_index)
    where not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = i.run_id and t.step_slug = i.step_slug and t.task_index = i.task_index
    )
    limit 1;
    if found then
      raise exception 'task % of step "%" in run % does not exist', v_missing.task_index, v_missing.step_slug, v_missing.run_id
        using errcode = '42704';
    end if;
  end if;
  if v_done is null then
    return;
  end if;

  for v_archive in
    select d.flow_slug, array_agg(d.message_id) as message_ids
    from unnest(v_done) as d
    where d.message_id is not null
    group by d.flow_slug
  loop
    perform pgmq.archive(v_archive.flow_slug, v_archive.message_ids);
  end loop;

  with finished as (
    update pgflow.step_states s
    set remaining_tasks = s.remaining_tasks - c.n,
        status = case when s.remaining_tasks - c.n = 0 then 'completed' else s.status end,
        completed_at = case when s.remaining_tasks - c.n = 0 then clock_timestamp() else s.completed_at end
    from (
      select d.run_id, d.step_slug, count(*)::integer as n, min(d.ordinality) as ord
      from unnest(v_done) with ordinality as d
      group by d.run_id, d.step_slug
    ) c
    where s.run_id = c.run_id and s.step_slug = c.step_slug
    returning s.run_id, s.step_slug, s.flow_slug, s.status, c.ord
  )
  select array_agg(finished.run_id order by finished.ord), array_agg(finished.step_slug order by finished.ord),
    array_agg(finished.flow_slug order by finished.ord)
  into v_step_runs, v_step_slugs, v_step_flows
  from finished
  where finished.status = 'completed';

  if v_step_runs is not null then
    perform pgflow.emit_events(
      'step:completed',
      v_step_flows,
      array(
        select jsonb_build_object('run_id', c.run_id, 'step_slug', c.step_slug, 'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_step_runs, v_step_slugs) with ordinality as c(run_id, step_slug, ord)
        order by c.ord
      )
    );

    with counted as (
      update pgflow.runs r
      set remaining_steps = r.remaining_steps - c.n
      from (select c.run_id, count(*)::integer as n from unnest(v_step_runs) as c(run_id) group by c.run_id) c
      where r.run_id = c.run_id
      returning r.run_id, r.remaining_steps
    )
    select array_agg(counted.run_id) into v_finished_runs from counted where counted.remaining_steps = 0;

    -- Dependents wait for one dependency less. Those left with none start now when they are single
    -- steps without a condition; the others (maps, conditions) are settled by pgflow.advance_runs.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - c.n,
          status = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then 'started' else s.status end,
          started_at = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then clock_timestamp() else s.started_at end,
          remaining_tasks = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then s.initial_tasks else s.remaining_tasks end
      from (
        select c.run_id, d.step_slug, count(*)::integer as n,
          bool_and(step.step_type = 'single' and step.required_input_pattern is null and step.forbidden_input_pattern is null) as plain
        from unnest(v_step_runs, v_step_slugs, v_step_flows) as c(run_id, step_slug, flow_slug)
        join pgflow.deps d on d.flow_slug = c.flow_slug and d.dep_slug = c.step_slug
        join pgflow.steps step on step.flow_slug = d.flow_slug and step.step_slug = d.step_slug
        group by c.run_id, d.step_slug
      ) c
      where s.run_id = c.run_id and s.step_slug = c.step_slug
      returning s.flow_slug, s.run_id, s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.flow_slug) filter (where waiting.status = 'started'),
      array_agg(waiting.run_id) filter (where waiting.status = 'started'),
      array_agg(waiting.step_slug) filter (where waiting.status = 'started'),
      array_agg(distinct waiting.run_id) filter (where waiting.status = 'created')
    into v_ready_flows, v_ready_runs, v_ready_slugs, v_settle_runs
    from waiting
    where waiting.remaining_deps = 0;

    if v_ready_runs is not null then
      perform pgflow.queue_step_tasks(v_ready_flows, v_ready_runs, v_ready_slugs);
    end if;
    if v_settle_runs is not null then
      perform pgflow.advance_runs(v_settle_runs);
    end if;
    if v_finished_runs is not null then
      perform pgflow.complete_runs(v_finished_runs);
    end if;
  end if;

  return query select * from unnest(v_done);
end;
$$;
