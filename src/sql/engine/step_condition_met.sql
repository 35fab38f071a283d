-- pgflow.step_condition_met(run_id, step_slug): whether the step's condition holds in this run: its
-- input (see pgflow.step_input) contains required_input_pattern, when it has one, and does not contain
-- forbidden_input_pattern, when it has one. A step without a condition always runs.
-- PL/pgSQL, each statement naming the run id, so that a distributed install (Citus) can plan it.
create or replace function pgflow.step_condition_met(run_id uuid, step_slug text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
  v_required jsonb;
  v_forbidden jsonb;
  v_input jsonb;
begin
  select step.required_input_pattern, step.forbidden_input_pattern into v_required, v_forbidden
  from pgflow.runs r
  join pgflow.steps step on step.flow_slug = r.flow_slug and step.step_slug = step_condition_met.step_slug
  where r.run_id = step_condition_met.run_id;
  if not found then
    return null;
  end if;
  if v_required is null and v_forbidden is null then
    return true;
  end if;
  v_input := pgflow.step_input(step_condition_met.run_id, step_condition_met.step_slug);
  return (v_required is null or v_input @> v_required) and (v_forbidden is null or not v_input @> v_forbidden);
end;
$$;
