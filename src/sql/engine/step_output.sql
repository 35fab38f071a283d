-- pgflow.step_output(run_id, step_slug): the output of a step of the run as its dependents and the
-- run's output see it: a single step's task output, or a map step's task outputs as a JSON array in
-- task_index order ([] for a map without tasks).
--
-- It does not look at the step's status: callers ask only for steps that completed.
-- PL/pgSQL, each statement naming the run id, so that a distributed install (Citus) can plan it.
create or replace function pgflow.step_output(run_id uuid, step_slug text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_step_type text;
begin
  select step.step_type into v_step_type
  from pgflow.runs r
  join pgflow.steps step on step.flow_slug = r.flow_slug and step.step_slug = step_output.step_slug
  where r.run_id = step_output.run_id;
  if not found then
    return null;
  end if;
  if v_step_type = 'map' then
    return coalesce((
      select jsonb_agg(t.output order by t.task_index)
      from pgflow.step_tasks t
      where t.run_id = step_output.run_id and t.step_slug = step_output.step_slug
    ), '[]'::jsonb);
  end if;
  return (
    select t.output
    from pgflow.step_tasks t
    where t.run_id = step_output.run_id and t.step_slug = step_output.step_slug and t.task_index = 0
  );
end;
$$;
