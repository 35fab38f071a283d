-- pgflow.step_input(run_id, step_slug): the input a single step's handler gets in this run,
-- {"run": <run input>, <dependency>: <its output>, ...}, with a key for each direct dependency that
-- completed (a skipped dependency has none). A step's condition is checked against this object, for
-- map steps too (their dependency's key then holds the whole array the step fans out over).
create or replace function pgflow.step_input(run_id uuid, step_slug text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('run', r.input) || coalesce((
    select jsonb_object_agg(d.dep_slug, pgflow.step_output(r.run_id, d.dep_slug))
    from pgflow.deps d
    join pgflow.step_states dep_state on dep_state.run_id = r.run_id and dep_state.step_slug = d.dep_slug
    where d.flow_slug = r.flow_slug
      and d.step_slug = step_input.step_slug
      and dep_state.status = 'completed'
  ), '{}'::jsonb)
  from pgflow.runs r
  where r.run_id = step_input.run_id;
$$;
