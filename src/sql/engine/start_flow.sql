-- pgflow.start_flow(flow_slug, input, run_id, idempotency_key): starts a run of the flow with `input`
-- and returns the run. `run_id` lets the caller choose the run's id. The input is a JSON object, or a
-- JSON array when the flow has a root map step (one that maps over the run input).
--
-- With an `idempotency_key`, a second start of the same flow with the same key returns the run the
-- first one created (whatever its state or input) and creates nothing, also when the two race: the
-- run id is derived from the pair (pgflow.idempotent_run_id), so the runs' primary key decides.
--
-- Creates the run (remaining_steps = the flow's step count) and a state per step waiting for its
-- dependencies; a root map knows its size from the input, a map over a dependency learns it later.
-- Root steps start at once and their tasks are queued; a root step with a condition is checked first,
-- and a root map over an empty array completes at once (see pgflow.advance_runs). A flow without steps,
-- or whose steps all finish without a task, completes immediately. Events: run:started (then the
-- events of those steps, and run:completed).
-- Invariants: everything happens in one transaction, so a failed start leaves nothing behind.
create or replace function pgflow.start_flow(
  flow_slug text,
  input jsonb,
  run_id uuid default null,
  idempotency_key text default null
)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_run_id uuid := start_flow.run_id;
  v_root_map text;
  v_input_size integer;
  v_waiting boolean;
  v_step_count integer;
  v_started text[];
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = start_flow.flow_slug) then
    raise exception 'flow "%" does not exist', start_flow.flow_slug
      using errcode = '42704', hint = 'Create it with pgflow.create_flow() and pgflow.add_step().';
  end if;
  if start_flow.idempotency_key is not null then
    if start_flow.run_id is not null then
      raise exception 'start_flow takes a run_id or an idempotency_key, not both' using errcode = '22023';
    end if;
    v_run_id := pgflow.idempotent_run_id(start_flow.flow_slug, start_flow.idempotency_key);
    return query select r.* from pgflow.runs r where r.run_id = v_run_id;
    if found then
      return;
    end if;
  end if;
  select s.step_slug into v_root_map
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug and s.step_type = 'map' and s.deps_count = 0
  order by s.step_index
  limit 1;
  if v_root_map is not null then
    if start_flow.input is null or jsonb_typeof(start_flow.input) <> 'array' then
      raise exception 'flow "%" maps its input in step "%", so the input of a run must be a JSON array, got %',
        start_flow.flow_slug, v_root_map, coalesce(jsonb_typeof(start_flow.input), 'NULL')
        using errcode = '22023';
    end if;
    v_input_size := jsonb_array_length(start_flow.input);
  elsif start_flow.input is null or jsonb_typeof(start_flow.input) <> 'object' then
    raise exception 'the input of a run must be a JSON object, got %', coalesce(jsonb_typeof(start_flow.input), 'NULL')
      using errcode = '22023';
  end if;
  if start_flow.run_id is not null
    and exists (select 1 from pgflow.runs r where r.run_id = start_flow.run_id) then
    raise exception 'run % already exists', start_flow.run_id using errcode = '23505';
  end if;

  -- The id and the step count are computed apart from the insert, so the insert names the row's node
  -- (Citus routes it by run_id and accepts no subquery inside it).
  v_run_id := coalesce(v_run_id, pgflow.uuid_v7());
  select count(*) into v_step_count from pgflow.steps s where s.flow_slug = start_flow.flow_slug;
  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps, idempotency_key)
  values (
    v_run_id,
    start_flow.flow_slug,
    start_flow.input,
    v_step_count,
    start_flow.idempotency_key
  )
  on conflict on constraint runs_pkey do nothing
  returning * into v_run;
  if not found then
    -- Another start committed this run id meanwhile: the same idempotency key, or the same run_id.
    if start_flow.idempotency_key is not null then
      return query select r.* from pgflow.runs r where r.run_id = v_run_id;
      return;
    end if;
    raise exception 'run % already exists', v_run_id using errcode = '23505';
  end if;

  -- Root steps without a condition and with tasks start at once; the others wait, for their
  -- dependencies or for pgflow.advance_runs below.
  with states as (
    insert into pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
    select s.flow_slug, v_run.run_id, s.step_slug, s.deps_count, size.tasks,
      case when plain.starts then 'started' else 'created' end,
      case when plain.starts then clock_timestamp() end,
      case when plain.starts then size.tasks end
    from pgflow.steps s
    cross join lateral (
      select case
        when s.step_type = 'single' then 1
        when s.deps_count = 0 then v_input_size
      end as tasks
    ) size
    cross join lateral (
      select s.deps_count = 0 and size.tasks > 0
        and s.required_input_pattern is null and s.forbidden_input_pattern is null as starts
    ) plain
    where s.flow_slug = start_flow.flow_slug
    returning step_states.status, step_states.remaining_deps
  )
  select coalesce(bool_or(states.status = 'created' and states.remaining_deps = 0), false) into v_waiting from states;

  perform pgflow.emit_event(
    'run:started',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'remaining_steps', v_run.remaining_steps,
      'started_at', v_run.started_at)
  );

  -- Read first, then queued: a call inside a query on the run's rows would run on the run's node
  -- (Citus pushes such a query down whole), away from the queue.
  select array_agg(s.step_slug order by step.step_index) into v_started
  from pgflow.step_states s
  join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
  where s.run_id = v_run.run_id and s.status = 'started';
  if v_started is not null then
    perform pgflow.queue_step_tasks(
      array_fill(v_run.flow_slug, array[cardinality(v_started)]),
      array_fill(v_run.run_id, array[cardinality(v_started)]),
      v_started
    );
  end if;

  if v_waiting or v_run.remaining_steps = 0 then
    perform pgflow.advance_runs(array[v_run.run_id]);
  end if;

  return query select r.* from pgflow.runs r where r.run_id = v_run.run_id;
end;
$$;
