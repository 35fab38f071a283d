-- pgflow.start_flows(flow_slug, inputs): starts one run of the flow per element of `inputs`, in one
-- transaction, and returns the runs in the order of their inputs. Each run is what
-- pgflow.start_flow(flow_slug, inputs[i]) would create: the run (remaining_steps = the flow's step
-- count), a state per step, root steps started with their tasks queued, root steps with a condition,
-- root maps over an empty array and flows without steps moved on by pgflow.advance_runs. Events:
-- run:started per run, in input order (then those of the steps advance_runs moves).
--
-- Set-based: one insert for all runs, one for all step states, one pgmq.send_batch per queue for all
-- root tasks (pgflow.queue_step_tasks), one call of pgflow.emit_events — one commit for the batch,
-- where start_flow commits once per run. On Citus it calls start_flow per input, in one transaction.
--
-- Every input is checked before anything is written (a JSON object each, or a JSON array each when the
-- flow has a root map); the first bad one is named by its position (1-based, as in SQL arrays).
-- NULL inputs and an unknown flow are errors; an empty array starts nothing and returns no rows.
-- Invariants: one transaction, so a failed call leaves nothing behind.
create or replace function pgflow.start_flows(flow_slug text, inputs jsonb[])
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_root_map text;
  v_bad record;
  v_run_ids uuid[];
  v_waiting uuid[];
  v_step_count integer;
  v_input jsonb;
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = start_flows.flow_slug) then
    raise exception 'flow "%" does not exist', start_flows.flow_slug
      using errcode = '42704', hint = 'Create it with pgflow.create_flow() and pgflow.add_step().';
  end if;
  if start_flows.inputs is null then
    raise exception 'start_flows needs an array of inputs, got NULL' using errcode = '22004';
  end if;
  if cardinality(start_flows.inputs) = 0 then
    return;
  end if;
  if array_ndims(start_flows.inputs) <> 1 then
    raise exception 'start_flows needs a one-dimensional array of inputs, got % dimensions', array_ndims(start_flows.inputs)
      using errcode = '22023';
  end if;

  select s.step_slug into v_root_map
  from pgflow.steps s
  where s.flow_slug = start_flows.flow_slug and s.step_type = 'map' and s.deps_count = 0
  order by s.step_index
  limit 1;

  select i.ord, i.input into v_bad
  from unnest(start_flows.inputs) with ordinality as i(input, ord)
  where i.input is null
    or jsonb_typeof(i.input) <> case when v_root_map is null then 'object' else 'array' end
  order by i.ord
  limit 1;
  if found then
    if v_root_map is not null then
      raise exception 'flow "%" maps its input in step "%", so the input of a run must be a JSON array, got % at inputs[%]',
        start_flows.flow_slug, v_root_map, coalesce(jsonb_typeof(v_bad.input), 'NULL'), v_bad.ord
        using errcode = '22023';
    end if;
    raise exception 'the input of a run must be a JSON object, got % at inputs[%]', coalesce(jsonb_typeof(v_bad.input), 'NULL'), v_bad.ord
      using errcode = '22023';
  end if;

  -- A distributed install (Citus) starts them one by one with pgflow.start_flow, whose statements each
  -- name their run (Citus plans no statement over a runtime table that joins a set-returning function).
  if pgflow.on_citus() then
    foreach v_input in array start_flows.inputs loop
      return query select r.* from pgflow.start_flow(start_flows.flow_slug, v_input) r;
    end loop;
    return;
  end if;

  select count(*) into v_step_count from pgflow.steps s where s.flow_slug = start_flows.flow_slug;

  v_run_ids := array(select pgflow.uuid_v7() from generate_series(1, cardinality(start_flows.inputs)));

  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps)
  select n.run_id, start_flows.flow_slug, n.input, v_step_count
  from unnest(v_run_ids, start_flows.inputs) with ordinality as n(run_id, input, ord)
  order by n.ord;

  -- Root steps without a condition and with tasks start at once; the others wait, for their
  -- dependencies or for pgflow.advance_runs below.
  insert into pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
  select s.flow_slug, n.run_id, s.step_slug, s.deps_count, size.tasks,
    case when plain.starts then 'started' else 'created' end,
    case when plain.starts then clock_timestamp() end,
    case when plain.starts then size.tasks end
  from unnest(v_run_ids, start_flows.inputs) with ordinality as n(run_id, input, ord)
  cross join pgflow.steps s
  cross join lateral (
    select case
      when s.step_type = 'single' then 1
      when s.deps_count = 0 then jsonb_array_length(n.input)
    end as tasks
  ) size
  cross join lateral (
    select s.deps_count = 0 and size.tasks > 0
      and s.required_input_pattern is null and s.forbidden_input_pattern is null as starts
  ) plain
  where s.flow_slug = start_flows.flow_slug
  order by n.ord, s.step_index;

  perform pgflow.emit_events(
    'run:started',
    array_agg(r.flow_slug order by n.ord),
    array_agg(jsonb_build_object('run_id', r.run_id, 'status', 'started', 'remaining_steps', r.remaining_steps, 'started_at', r.started_at) order by n.ord)
  )
  from unnest(v_run_ids) with ordinality as n(run_id, ord)
  join pgflow.runs r on r.run_id = n.run_id;

  perform pgflow.queue_step_tasks(array_agg(s.flow_slug order by n.ord, step.step_index), array_agg(s.run_id order by n.ord, step.step_index),
    array_agg(s.step_slug order by n.ord, step.step_index))
  from unnest(v_run_ids) with ordinality as n(run_id, ord)
  join pgflow.step_states s on s.run_id = n.run_id
  join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
  where s.status = 'started'
  having count(*) > 0;

  select array_agg(n.run_id order by n.ord) into v_waiting
  from unnest(v_run_ids) with ordinality as n(run_id, ord)
  where v_step_count = 0
    or exists (select 1 from pgflow.step_states s where s.run_id = n.run_id and s.status = 'created' and s.remaining_deps = 0);
  if v_waiting is not null then
    perform pgflow.advance_runs(v_waiting);
  end if;

  return query
    select r.*
    from unnest(v_run_ids) with ordinality as n(run_id, ord)
    join pgflow.runs r on r.run_id = n.run_id
    order by n.ord;
end;
$$;
