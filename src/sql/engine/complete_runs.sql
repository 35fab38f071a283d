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
begin
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
