-- pgflow.start_ready_steps(run_id): starts every step of the run that waits for no dependency.
--
-- Invariants: see pgflow.start_steps; the run's row is locked first, and nothing starts in a run
-- that has failed or completed.
create or replace function pgflow.start_ready_steps(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from pgflow.runs r where r.run_id = start_ready_steps.run_id for update;
  perform pgflow.start_steps(array_agg(s.run_id), array_agg(s.step_slug))
  from pgflow.step_states s
  where s.run_id = start_ready_steps.run_id
    and s.status = 'created'
    and s.remaining_deps = 0;
end;
$$;
