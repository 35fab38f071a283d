-- pgflow.get_run_with_states(run_id): the run and the states of its steps as one JSON document,
-- {"run": {...}, "steps": [{...}, ...]} with steps in definition order; NULL when the run does not exist.
create or replace function pgflow.get_run_with_states(run_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'run', to_jsonb(r),
    'steps', coalesce((
      select jsonb_agg(to_jsonb(s) order by step.step_index)
      from pgflow.step_states s
      join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
      where s.run_id = r.run_id
    ), '[]'::jsonb)
  )
  from pgflow.runs r
  where r.run_id = get_run_with_states.run_id;
$$;
