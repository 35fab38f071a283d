-- pgflow.cascade_complete_taskless_steps(run_id): completes, wave after wave, the ready steps of the
-- run that have no task to run (maps over an empty array, output []), counting them off their
-- dependents and the run, and settles the rest of the run as pgflow.advance_runs does. Returns how
-- many steps completed without a task.
--
-- Single steps always have one task; this keeps the pgflow 0.8.1 contract for maps, whose task count
-- can be zero. The run's row is locked first.
create or replace function pgflow.cascade_complete_taskless_steps(run_id uuid)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_before integer;
begin
  perform 1 from pgflow.runs r where r.run_id = cascade_complete_taskless_steps.run_id for update;
  select count(*) into v_before
  from pgflow.step_states s
  where s.run_id = cascade_complete_taskless_steps.run_id and s.status = 'completed' and s.initial_tasks = 0;
  perform pgflow.advance_runs(array[cascade_complete_taskless_steps.run_id]);
  return (
    select count(*)
    from pgflow.step_states s
    where s.run_id = cascade_complete_taskless_steps.run_id and s.status = 'completed' and s.initial_tasks = 0
  ) - v_before;
end;
$$;
