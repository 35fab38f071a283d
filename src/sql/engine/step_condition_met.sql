-- pgflow.step_condition_met(run_id, step_slug): whether the step's condition holds in this run: its
-- input (see pgflow.step_input) contains required_input_pattern, when it has one, and does not contain
-- forbidden_input_pattern, when it has one. A step without a condition always runs.
create or replace function pgflow.step_condition_met(run_id uuid, step_slug text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select case
    when step.required_input_pattern is null and step.forbidden_input_pattern is null then true
    else (
      select (step.required_input_pattern is null or input.value @> step.required_input_pattern)
        and (step.forbidden_input_pattern is null or not input.value @> step.forbidden_input_pattern)
      from (select pgflow.step_input(step_condition_met.run_id, step_condition_met.step_slug) as value) input
    )
  end
  from pgflow.runs r
  join pgflow.steps step on step.flow_slug = r.flow_slug and step.step_slug = step_condition_met.step_slug
  where r.run_id = step_condition_met.run_id;
$$;
