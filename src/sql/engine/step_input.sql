-- pgflow.step_input(run_id, step_slug): the input a single step's handler gets in this run,
-- {"run": <run input>, <dependency>: <its output>, ...}, with a key for each direct dependency that
-- completed (a skipped dependency has none). A step's condition is checked against this object, for
-- map steps too (their dependency's key then holds the whole array the step fans out over).
-- PL/pgSQL, each statement naming the run id, so that a distributed install (Citus) can plan it.
create or replace function pgflow.step_input(run_id uuid, step_slug text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_input jsonb;
  v_dep text;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = step_input.run_id;
  if not found then
    return null;
  end if;
  v_input := jsonb_build_object('run', v_run.input);
  for v_dep in
    select d.dep_slug
    from pgflow.deps d
    join pgflow.step_states dep_state on dep_state.run_id = step_input.run_id and dep_state.step_slug = d.dep_slug
    where d.flow_slug = v_run.flow_slug
      and d.step_slug = step_input.step_slug
      and dep_state.status = 'completed'
  loop
    v_input := v_input || jsonb_build_object(v_dep, pgflow.step_output(step_input.run_id, v_dep));
  end loop;
  return v_input;
end;
$$;
