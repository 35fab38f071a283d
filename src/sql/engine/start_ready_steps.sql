-- pgflow.start_ready_steps(run_id): starts every step of the run that waits for no dependency, after
-- checking its condition; a map over an empty array completes at once (see pgflow.advance_runs, which
-- this runs for one run).
--
-- Invariants: the run's row is locked first, and nothing starts in a run that has failed or completed.
create or replace function pgflow.start_ready_steps(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from pgflow.runs r where r.run_id = start_ready_steps.run_id for update;
  perform pgflow.advance_runs(array[start_ready_steps.run_id]);
end;
$$;
