-- pgflow.start_flow(flow_slug, input, run_id): starts a run of the flow with `input` (a JSON object)
-- and returns the run. `run_id` lets the caller choose the run's id.
--
-- Creates the run (remaining_steps = the flow's step count) and a state per step waiting for its
-- dependencies; steps without dependencies start at once and their tasks are queued. A flow without
-- steps completes immediately. Events: run:started (then run:completed for an empty flow).
-- Invariants: everything happens in one transaction, so a failed start leaves nothing behind.
create or replace function pgflow.start_flow(
  flow_slug text,
  input jsonb,
  run_id uuid default null
)
returns setof pgflow.runs
language plpgsql
set search_path = ''
as $$
declare
  v_run pgflow.runs;
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = start_flow.flow_slug) then
    raise exception 'flow "%" does not exist', start_flow.flow_slug
      using errcode = '42704', hint = 'Create it with pgflow.create_flow() and pgflow.add_step().';
  end if;
  if start_flow.input is null or jsonb_typeof(start_flow.input) <> 'object' then
    raise exception 'the input of a run must be a JSON object, got %', coalesce(jsonb_typeof(start_flow.input), 'NULL')
      using errcode = '22023';
  end if;
  if start_flow.run_id is not null
    and exists (select 1 from pgflow.runs r where r.run_id = start_flow.run_id) then
    raise exception 'run % already exists', start_flow.run_id using errcode = '23505';
  end if;

  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps)
  values (
    coalesce(start_flow.run_id, pgflow.uuid_v7()),
    start_flow.flow_slug,
    start_flow.input,
    (select count(*) from pgflow.steps s where s.flow_slug = start_flow.flow_slug)
  )
  returning * into v_run;

  -- Steps without dependencies start at once; the others wait for them.
  insert into pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
  select s.flow_slug, v_run.run_id, s.step_slug, s.deps_count, 1,
    case when s.deps_count = 0 then 'started' else 'created' end,
    case when s.deps_count = 0 then now() end,
    case when s.deps_count = 0 then 1 end
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug;

  perform pgflow.emit_event(
    'run:started',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'remaining_steps', v_run.remaining_steps,
      'started_at', v_run.started_at)
  );

  perform pgflow.queue_step_tasks(array_agg(s.flow_slug), array_agg(v_run.run_id), array_agg(s.step_slug))
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug and s.deps_count = 0;

  if v_run.remaining_steps = 0 then
    perform pgflow.complete_runs(array[v_run.run_id]);
  end if;

  return query select r.* from pgflow.runs r where r.run_id = v_run.run_id;
end;
$$;
