-- pgflow.complete_runs(run_ids): completes every given run that is `started` and has no step left,
-- storing as its output an object with the output of each of its leaf steps (steps nothing depends
-- on) that completed — a map step's as the array of its task outputs; a skipped leaf has no key —,
-- and announces it.
--
-- Invariants: a run completes once (only `started` runs with remaining_steps = 0 qualify); a flow
-- without steps completes with a NULL output. Callers hold the runs' row locks.
create or replace function pgflow.complete_runs(run_ids uuid[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_runs uuid[];
  v_flows text[];
  v_run_id uuid;
  v_flow text;
  v_output jsonb;
  v_leaf text;
  v_now timestamptz;
begin
  -- A distributed install (Citus) completes them one run at a time: every statement names the run id,
  -- and each leaf's output is read on its own (Citus plans no function over a runtime table inside an UPDATE).
  if pgflow.on_citus() then
    foreach v_run_id in array coalesce(complete_runs.run_ids, '{}') loop
      select r.flow_slug into v_flow
      from pgflow.runs r
      where r.run_id = v_run_id and r.status = 'started' and r.remaining_steps = 0
      for update;
      continue when not found;
      v_output := case when exists (select 1 from pgflow.steps step where step.flow_slug = v_flow) then '{}'::jsonb end;
      for v_leaf in
        select s.step_slug
        from pgflow.step_states s
        where s.run_id = v_run_id
          and s.status = 'completed'
          and not exists (select 1 from pgflow.deps d where d.flow_slug = v_flow and d.dep_slug = s.step_slug)
      loop
        v_output := v_output || jsonb_build_object(v_leaf, pgflow.step_output(v_run_id, v_leaf));
      end loop;
      v_now := clock_timestamp();
      update pgflow.runs r
      set status = 'completed', completed_at = v_now, output = v_output
      where r.run_id = v_run_id;
      v_runs := v_runs || v_run_id;
      v_flows := v_flows || v_flow;
    end loop;
  else
    with completed as (
      update pgflow.runs r
      set status = 'completed',
          completed_at = clock_timestamp(),
          output = case when exists (select 1 from pgflow.steps step where step.flow_slug = r.flow_slug) then coalesce((
            select jsonb_object_agg(s.step_slug, pgflow.step_output(r.run_id, s.step_slug))
            from pgflow.step_states s
            where s.run_id = r.run_id
              and s.status = 'completed'
              and not exists (
                select 1 from pgflow.deps d where d.flow_slug = r.flow_slug and d.dep_slug = s.step_slug
              )
          ), '{}'::jsonb) end
      where r.run_id = any(complete_runs.run_ids)
        and r.status = 'started'
        and r.remaining_steps = 0
      returning r.run_id, r.flow_slug
    )
    select array_agg(completed.run_id), array_agg(completed.flow_slug) into v_runs, v_flows from completed;
  end if;

  if v_runs is not null then
    perform pgflow.emit_events(
      'run:completed',
      v_flows,
      array(
        select jsonb_build_object('run_id', c.run_id, 'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_runs) with ordinality as c(run_id, ord)
        order by c.ord
      )
    );
  end if;
end;
$$;
