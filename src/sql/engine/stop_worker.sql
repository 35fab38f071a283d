-- pgflow.stop_worker(worker_id): records that the worker has shut down (stopped_at).
-- Stopping a stopped worker keeps the first stop time; unknown workers are an error.
create or replace function pgflow.stop_worker(worker_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- The time as a value: Citus allows no volatile function in an UPDATE of its tables.
  v_now timestamptz := clock_timestamp();
begin
  update pgflow.workers w
  set stopped_at = coalesce(w.stopped_at, v_now)
  where w.worker_id = stop_worker.worker_id;
  if not found then
    raise exception 'worker % is not registered', stop_worker.worker_id using errcode = '42704';
  end if;
end;
$$;
