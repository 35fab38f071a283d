-- pgflow.advance_runs(run_ids): moves the given runs as far as they go without a worker, wave after
-- wave until nothing changes, then completes those with no step left. For the steps that wait for no
-- dependency any more (`created`, remaining_deps = 0):
--   1. a step whose condition is not met fails the run (when_unmet 'fail'), or is skipped, alone
--      ('skip') or with everything after it ('skip-cascade');
--   2. a map over a dependency learns its size: the length of the array that dependency produced (the
--      number of its tasks, for a map), or 0 when the dependency was skipped; a dependency that
--      produced anything but an array fails the run, naming both steps and what it got;
--   3. a step without tasks (a map over an empty array) completes at once with output [];
--   4. every other step starts and its tasks are queued, one per array element for a map.
-- Finishing a step counts it off its run and its dependents, which may make them ready in turn.
--
-- On Citus each run goes through pgflow.advance_run instead, which does the same step by step.
-- Invariants: only `started` runs change; a condition is checked before its step starts or completes,
-- on the input the step would get; callers hold the runs' row locks. Events: those of pgflow.fail_run
-- and pgflow.skip_step, step:completed for steps without tasks, run:completed.
create or replace function pgflow.advance_runs(run_ids uuid[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_progress boolean;
  v_unmet record;
  v_violation record;
  v_input jsonb;
  v_runs uuid[];
  v_steps text[];
  v_flows text[];
  v_run_id uuid;
begin
  -- A distributed install (Citus) moves each run on its own, step by step (see pgflow.advance_run).
  if pgflow.on_citus() then
    foreach v_run_id in array coalesce(advance_runs.run_ids, '{}') loop
      perform pgflow.advance_run(v_run_id);
    end loop;
    perform pgflow.complete_runs(advance_runs.run_ids);
    return;
  end if;

  loop
    v_progress := false;

    -- 1. Conditions that are not met, in step order within each run.
    for v_unmet in
      select s.run_id, s.step_slug, step.when_unmet, step.required_input_pattern, step.forbidden_input_pattern
      from pgflow.step_states s
      join pgflow.runs r on r.run_id = s.run_id and r.status = 'started'
      join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
      where s.run_id = any(advance_runs.run_ids)
        and s.status = 'created'
        and s.remaining_deps = 0
        and (step.required_input_pattern is not null or step.forbidden_input_pattern is not null)
        and not pgflow.step_condition_met(s.run_id, s.step_slug)
      order by s.run_id, step.step_index
    loop
      -- An earlier step of this loop may have failed the run or skipped this step already.
      continue when not exists (
        select 1
        from pgflow.step_states s
        join pgflow.runs r on r.run_id = s.run_id
        where s.run_id = v_unmet.run_id and s.step_slug = v_unmet.step_slug and s.status = 'created' and r.status = 'started'
      );
      v_progress := true;
      if v_unmet.when_unmet = 'fail' then
        v_input := pgflow.step_input(v_unmet.run_id, v_unmet.step_slug);
        perform pgflow.fail_run(
          v_unmet.run_id,
          v_unmet.step_slug,
          case
            when v_unmet.required_input_pattern is not null and not v_input @> v_unmet.required_input_pattern
              then format('condition not met: the input of step "%s" does not contain %s', v_unmet.step_slug, v_unmet.required_input_pattern)
            else format('condition not met: the input of step "%s" contains %s', v_unmet.step_slug, v_unmet.forbidden_input_pattern)
          end
        );
      else
        perform pgflow.skip_step(v_unmet.run_id, v_unmet.step_slug, 'condition_unmet', v_unmet.when_unmet = 'skip-cascade');
      end if;
    end loop;

    -- 2. Maps over a dependency: a dependency that produced no array fails the run (first map per run) ...
    for v_violation in
      select distinct on (s.run_id) s.run_id, s.step_slug, d.dep_slug, coalesce(jsonb_typeof(dep_task.output), 'null') as got
      from pgflow.step_states s
      join pgflow.runs r on r.run_id = s.run_id and r.status = 'started'
      join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug and step.step_type = 'map'
      join pgflow.deps d on d.flow_slug = s.flow_slug and d.step_slug = s.step_slug
      join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug and dep_step.step_type = 'single'
      join pgflow.step_states dep_state on dep_state.run_id = s.run_id and dep_state.step_slug = d.dep_slug and dep_state.status = 'completed'
      join pgflow.step_tasks dep_task on dep_task.run_id = s.run_id and dep_task.step_slug = d.dep_slug and dep_task.task_index = 0
      where s.run_id = any(advance_runs.run_ids)
        and s.status = 'created'
        and s.remaining_deps = 0
        and s.initial_tasks is null
        and coalesce(jsonb_typeof(dep_task.output), 'null') <> 'array'
      order by s.run_id, step.step_index
    loop
      v_progress := true;
      perform pgflow.fail_run(
        v_violation.run_id,
        v_violation.step_slug,
        format('map step "%s" expects an array from step "%s", got %s', v_violation.step_slug, v_violation.dep_slug, v_violation.got)
      );
    end loop;

    -- ... and the others learn their size.
    update pgflow.step_states s
    set initial_tasks = case
        when dep_state.status <> 'completed' then 0
        when dep_step.step_type = 'map' then dep_state.initial_tasks
        else (
          select jsonb_array_length(dep_task.output)
          from pgflow.step_tasks dep_task
          where dep_task.run_id = s.run_id and dep_task.step_slug = d.dep_slug and dep_task.task_index = 0
        )
      end
    from pgflow.runs r, pgflow.deps d, pgflow.steps dep_step, pgflow.step_states dep_state
    where s.run_id = any(advance_runs.run_ids)
      and s.status = 'created'
      and s.remaining_deps = 0
      and s.initial_tasks is null
      and r.run_id = s.run_id
      and r.status = 'started'
      and d.flow_slug = s.flow_slug
      and d.step_slug = s.step_slug
      and dep_step.flow_slug = d.flow_slug
      and dep_step.step_slug = d.dep_slug
      and dep_state.run_id = s.run_id
      and dep_state.step_slug = d.dep_slug;
    if found then
      v_progress := true;
    end if;

    -- 3. Steps without tasks complete at once (a condition first, should it have become ready just now).
    with done as (
      update pgflow.step_states s
      set status = 'completed', started_at = clock_timestamp(), completed_at = clock_timestamp(), remaining_tasks = 0
      from pgflow.runs r
      where s.run_id = any(advance_runs.run_ids)
        and r.run_id = s.run_id
        and r.status = 'started'
        and s.status = 'created'
        and s.remaining_deps = 0
        and s.initial_tasks = 0
        and pgflow.step_condition_met(s.run_id, s.step_slug)
      returning s.flow_slug, s.run_id, s.step_slug
    )
    select array_agg(done.flow_slug order by done.run_id, step.step_index),
      array_agg(done.run_id order by done.run_id, step.step_index),
      array_agg(done.step_slug order by done.run_id, step.step_index)
    into v_flows, v_runs, v_steps
    from done
    join pgflow.steps step on step.flow_slug = done.flow_slug and step.step_slug = done.step_slug;

    if v_runs is not null then
      v_progress := true;
      perform pgflow.emit_events(
        'step:completed',
        v_flows,
        array(
          select jsonb_build_object('run_id', c.run_id, 'step_slug', c.step_slug, 'status', 'completed', 'completed_at', clock_timestamp())
          from unnest(v_runs, v_steps) with ordinality as c(run_id, step_slug, ord)
          order by c.ord
        )
      );
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - c.n
      from (
        select c.run_id, d.step_slug, count(*)::integer as n
        from unnest(v_flows, v_runs, v_steps) as c(flow_slug, run_id, step_slug)
        join pgflow.deps d on d.flow_slug = c.flow_slug and d.dep_slug = c.step_slug
        group by c.run_id, d.step_slug
      ) c
      where s.run_id = c.run_id and s.step_slug = c.step_slug;
      update pgflow.runs r
      set remaining_steps = r.remaining_steps - c.n
      from (select c.run_id, count(*)::integer as n from unnest(v_runs) as c(run_id) group by c.run_id) c
      where r.run_id = c.run_id;
    end if;

    -- 4. The others start, and their tasks are queued.
    with started as (
      update pgflow.step_states s
      set status = 'started', started_at = clock_timestamp(), remaining_tasks = s.initial_tasks
      from pgflow.runs r
      where s.run_id = any(advance_runs.run_ids)
        and r.run_id = s.run_id
        and r.status = 'started'
        and s.status = 'created'
        and s.remaining_deps = 0
        and s.initial_tasks > 0
        and pgflow.step_condition_met(s.run_id, s.step_slug)
      returning s.flow_slug, s.run_id, s.step_slug
    )
    select array_agg(started.flow_slug), array_agg(started.run_id), array_agg(started.step_slug)
    into v_flows, v_runs, v_steps
    from started;

    if v_runs is not null then
      v_progress := true;
      perform pgflow.queue_step_tasks(v_flows, v_runs, v_steps);
    end if;

    exit when not v_progress;
  end loop;

  perform pgflow.complete_runs(advance_runs.run_ids);
end;
$$;
