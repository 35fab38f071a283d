-- pgflow.complete_task(run_id, step_slug, task_index, output): completes one started task with its
-- output (any JSON value, or NULL) and moves the run forward; returns the completed task.
--
-- The output is stored and the task's message archived. When the step has no task left it completes
-- (step:completed), counts off its run's remaining steps and its dependents' remaining dependencies;
-- dependents left with none start at once (see pgflow.advance_runs for maps and conditions); a run
-- with no step left completes (run:completed).
-- Invariants: the run's row is locked first, so a task is completed at most once and concurrent calls
-- cannot deadlock; a task that is not `started`, or whose run is not `started`, is left alone and no
-- row is returned; a task that does not exist is an error. One row at a time, with primary-key
-- lookups only: this is the path pgflow's own workers call for every task. pgflow.complete_tasks is
-- its batched twin.
create or replace function pgflow.complete_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  output jsonb
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow text;
  v_task pgflow.step_tasks;
  v_step_completed boolean;
  v_remaining_steps integer;
  v_ready text[];
  v_settle boolean;
  v_now timestamptz;
begin
  select r.flow_slug into v_flow
  from pgflow.runs r
  where r.run_id = complete_task.run_id and r.status = 'started'
  for update;

  if found then
    -- The time, read once the run is locked (Citus allows no volatile function in an UPDATE of its tables).
    v_now := clock_timestamp();
    update pgflow.step_tasks t
    set status = 'completed', completed_at = greatest(v_now, t.started_at), output = complete_task.output
    where t.run_id = complete_task.run_id
      and t.step_slug = complete_task.step_slug
      and t.task_index = complete_task.task_index
      and t.status = 'started'
    returning t.* into v_task;
  end if;

  if v_task.run_id is null then
    if not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = complete_task.run_id and t.step_slug = complete_task.step_slug and t.task_index = complete_task.task_index
    ) then
      raise exception 'task % of step "%" in run % does not exist', complete_task.task_index, complete_task.step_slug, complete_task.run_id
        using errcode = '42704';
    end if;
    return;
  end if;

  if v_task.message_id is not null then
    perform pgmq.archive(v_flow, v_task.message_id);
  end if;

  update pgflow.step_states s
  set remaining_tasks = s.remaining_tasks - 1,
      status = case when s.remaining_tasks = 1 then 'completed' else s.status end,
      completed_at = case when s.remaining_tasks = 1 then v_now else s.completed_at end
  where s.run_id = complete_task.run_id and s.step_slug = complete_task.step_slug
  returning s.status = 'completed' into v_step_completed;

  if v_step_completed then
    perform pgflow.emit_event(
      'step:completed',
      v_flow,
      jsonb_build_object('run_id', complete_task.run_id, 'step_slug', complete_task.step_slug, 'status', 'completed',
        'completed_at', clock_timestamp())
    );

    update pgflow.runs r
    set remaining_steps = r.remaining_steps - 1
    where r.run_id = complete_task.run_id
    returning r.remaining_steps into v_remaining_steps;

    -- Dependents wait for one dependency less. Those left with none start now when they are single
    -- steps without a condition; the others (maps, conditions) are settled by pgflow.advance_runs.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - 1,
          status = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then 'started' else s.status end,
          started_at = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then v_now else s.started_at end,
          remaining_tasks = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then s.initial_tasks else s.remaining_tasks end
      from pgflow.deps d
      join pgflow.steps step on step.flow_slug = d.flow_slug and step.step_slug = d.step_slug
      cross join lateral (
        select step.step_type = 'single' and step.required_input_pattern is null and step.forbidden_input_pattern is null as starts
      ) plain
      where d.flow_slug = v_flow
        and d.dep_slug = complete_task.step_slug
        and s.run_id = complete_task.run_id
        and s.step_slug = d.step_slug
      returning s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.step_slug) filter (where waiting.status = 'started'),
      coalesce(bool_or(waiting.status = 'created'), false)
    into v_ready, v_settle
    from waiting
    where waiting.remaining_deps = 0;

    if v_ready is not null then
      perform pgflow.queue_step_tasks(
        array_fill(v_flow, array[cardinality(v_ready)]),
        array_fill(complete_task.run_id, array[cardinality(v_ready)]),
        v_ready
      );
    end if;
    if v_settle then
      perform pgflow.advance_runs(array[complete_task.run_id]);
    elsif v_remaining_steps = 0 then
      perform pgflow.complete_runs(array[complete_task.run_id]);
    end if;
  end if;

  return next v_task;
end;
$$;
