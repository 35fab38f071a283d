-- pgflow.heartbeat_worker(worker_id): records that the worker is alive (last_heartbeat_at).
-- Unknown workers are an error, so a worker whose row was removed learns it must register again.
create or replace function pgflow.heartbeat_worker(worker_id uuid)
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
  set last_heartbeat_at = v_now
  where w.worker_id = heartbeat_worker.worker_id;
  if not found then
    raise exception 'worker % is not registered', heartbeat_worker.worker_id
      using errcode = '42704', hint = 'Call pgflow.register_worker() first.';
  end if;
end;
$$;
