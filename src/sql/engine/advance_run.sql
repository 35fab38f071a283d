-- pgflow.advance_run(run_id): pgflow.advance_runs for one run, step by step — the path a distributed
-- install (Citus) takes. Each step that waits for no dependency any more (`created`, remaining_deps = 0),
-- in step order, and again until nothing changes:
--   1. its condition is checked: unmet, the run fails (when_unmet 'fail') or the step is skipped, alone
--      or with everything after it (pgflow.skip_step);
--   2. a map over a dependency learns its size (the dependency's array length, its task count for a
--      map, 0 when it was skipped); a dependency that produced anything but an array fails the run;
--   3. a step without tasks completes at once with output [], counting itself off its run and its
--      dependents; any other starts and its tasks are queued (pgflow.queue_step_tasks).
-- It does not complete the run; pgflow.advance_runs does that afterwards.
--
-- Invariants: as pgflow.advance_runs (callers hold the run's row lock; only a `started` run changes). Every
-- statement names the run id, so Citus routes it to the run's node; functions that read runtime tables
-- are called on their own, never inside a statement over those tables; times are read into a variable
-- (Citus allows no volatile function in an UPDATE of its tables).
create or replace function pgflow.advance_run(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_flow text;
  v_progress boolean;
  v_step record;
  v_dep record;
  v_input jsonb;
  v_output jsonb;
  v_size integer;
  v_now timestamptz;
begin
  loop
    v_progress := false;
    for v_step in
      select s.step_slug, s.initial_tasks, step.when_unmet, step.required_input_pattern, step.forbidden_input_pattern
      from pgflow.step_states s
      join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
      where s.run_id = advance_run.run_id and s.status = 'created' and s.remaining_deps = 0
      order by step.step_index
    loop
      -- The run may have failed, or this step been skipped, earlier in this loop.
      select r.flow_slug into v_flow
      from pgflow.runs r
      join pgflow.step_states s on s.run_id = r.run_id and s.step_slug = v_step.step_slug and s.status = 'created'
      where r.run_id = advance_run.run_id and r.status = 'started';
      continue when not found;
      v_progress := true;

      -- 1. The condition.
      if v_step.required_input_pattern is not null or v_step.forbidden_input_pattern is not null then
        v_input := pgflow.step_input(advance_run.run_id, v_step.step_slug);
        if not ((v_step.required_input_pattern is null or v_input @> v_step.required_input_pattern)
            and (v_step.forbidden_input_pattern is null or not v_input @> v_step.forbidden_input_pattern)) then
          if v_step.when_unmet = 'fail' then
            perform pgflow.fail_run(
              advance_run.run_id,
              v_step.step_slug,
              case
                when v_step.required_input_pattern is not null and not v_input @> v_step.required_input_pattern
                  then format('condition not met: the input of step "%s" does not contain %s', v_step.step_slug, v_step.required_input_pattern)
                else format('condition not met: the input of step "%s" contains %s', v_step.step_slug, v_step.forbidden_input_pattern)
              end
            );
          else
            perform pgflow.skip_step(advance_run.run_id, v_step.step_slug, 'condition_unmet', v_step.when_unmet = 'skip-cascade');
          end if;
          continue;
        end if;
      end if;

      -- 2. The size of a map over a dependency.
      v_size := v_step.initial_tasks;
      if v_size is null then
        select d.dep_slug, dep_step.step_type, dep_state.status, dep_state.initial_tasks into v_dep
        from pgflow.deps d
        join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug
        join pgflow.step_states dep_state on dep_state.step_slug = d.dep_slug
        where d.flow_slug = v_flow and d.step_slug = v_step.step_slug and dep_state.run_id = advance_run.run_id;
        if v_dep.status <> 'completed' then
          v_size := 0;
        elsif v_dep.step_type = 'map' then
          v_size := v_dep.initial_tasks;
        else
          select t.output into v_output
          from pgflow.step_tasks t
          where t.run_id = advance_run.run_id and t.step_slug = v_dep.dep_slug and t.task_index = 0;
          if jsonb_typeof(v_output) is distinct from 'array' then
            perform pgflow.fail_run(
              advance_run.run_id,
              v_step.step_slug,
              format('map step "%s" expects an array from step "%s", got %s', v_step.step_slug, v_dep.dep_slug,
                coalesce(jsonb_typeof(v_output), 'null'))
            );
            continue;
          end if;
          v_size := jsonb_array_length(v_output);
        end if;
        update pgflow.step_states s
        set initial_tasks = v_size
        where s.run_id = advance_run.run_id and s.step_slug = v_step.step_slug;
      end if;

      -- 3. Complete a step without tasks, or start the step and queue its tasks.
      v_now := clock_timestamp();
      if v_size = 0 then
        update pgflow.step_states s
        set status = 'completed', started_at = v_now, completed_at = v_now, remaining_tasks = 0
        where s.run_id = advance_run.run_id and s.step_slug = v_step.step_slug;
        perform pgflow.emit_event(
          'step:completed',
          v_flow,
          jsonb_build_object('run_id', advance_run.run_id, 'step_slug', v_step.step_slug, 'status', 'completed', 'completed_at', v_now)
        );
        update pgflow.step_states s
        set remaining_deps = s.remaining_deps - 1
        from pgflow.deps d
        where s.run_id = advance_run.run_id
          and d.flow_slug = v_flow
          and d.dep_slug = v_step.step_slug
          and s.step_slug = d.step_slug;
        update pgflow.runs r
        set remaining_steps = r.remaining_steps - 1
        where r.run_id = advance_run.run_id;
      else
        update pgflow.step_states s
        set status = 'started', started_at = v_now, remaining_tasks = v_size
        where s.run_id = advance_run.run_id and s.step_slug = v_step.step_slug;
        perform pgflow.queue_step_tasks(array[v_flow], array[advance_run.run_id], array[v_step.step_slug]);
      end if;
    end loop;
    exit when not v_progress;
  end loop;
end;
$$;
