-- pgflow.maybe_complete_run(run_id): completes the run if none of its steps is left.
--
-- Invariants: see pgflow.complete_runs; the run's row is locked first.
create or replace function pgflow.maybe_complete_run(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from pgflow.runs r where r.run_id = maybe_complete_run.run_id for update;
  perform pgflow.complete_runs(array[maybe_complete_run.run_id]);
end;
$$;
