-- pgflow.start_steps(run_ids, step_slugs): starts the given steps, pairing run_ids[i] with
-- step_slugs[i]: each becomes `started` and its task is queued (see pgflow.queue_step_tasks).
-- Returns how many steps it started.
--
-- Invariants: only steps that are still `created`, wait for no dependency and belong to a `started`
-- run are touched, so a step is never started twice. Callers hold the runs' row locks.
create or replace function pgflow.start_steps(run_ids uuid[], step_slugs text[])
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_flows text[];
  v_runs uuid[];
  v_steps text[];
begin
  with started as (
    update pgflow.step_states s
    set status = 'started',
        started_at = clock_timestamp(),
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
  select array_agg(started.flow_slug), array_agg(started.run_id), array_agg(started.step_slug)
  into v_flows, v_runs, v_steps
  from started;

  if v_runs is null then
    return 0;
  end if;
  perform pgflow.queue_step_tasks(v_flows, v_runs, v_steps);
  return cardinality(v_runs);
end;
$$;
