-- pgflow.get_run_with_states(run_id): the run and the states of its steps as one JSON document,
-- {"run": {...}, "steps": [{...}, ...]} with steps in definition order; NULL when the run does not exist.
-- PL/pgSQL, and every table filtered by the run id itself: on Citus the function is delegated to the
-- node that holds the run, where both reads stay on that node's shards (Citus plans no parameterised
-- SQL-language function).
create or replace function pgflow.get_run_with_states(run_id uuid)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_run jsonb;
  v_steps jsonb;
begin
  select to_jsonb(r) into v_run from pgflow.runs r where r.run_id = get_run_with_states.run_id;
  if v_run is null then
    return null;
  end if;
  select jsonb_agg(to_jsonb(s) order by step.step_index) into v_steps
  from pgflow.step_states s
  join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
  where s.run_id = get_run_with_states.run_id;
  return jsonb_build_object('run', v_run, 'steps', coalesce(v_steps, '[]'::jsonb));
end;
$$;
