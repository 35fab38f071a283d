-- pgflow.register_worker(worker_id, queue_name, function_name): records a worker that serves the
-- queue; returns its row. Idempotent: registering again refreshes the heartbeat, the queue and the
-- function name, and clears stopped_at.
create or replace function pgflow.register_worker(
  worker_id uuid,
  queue_name text,
  function_name text
)
returns pgflow.workers
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- The time as a value: Citus allows no volatile function in an UPDATE of its tables.
  v_now timestamptz := clock_timestamp();
  v_worker pgflow.workers;
begin
  insert into pgflow.workers as w (worker_id, queue_name, function_name)
  values (register_worker.worker_id, register_worker.queue_name, register_worker.function_name)
  on conflict on constraint workers_pkey do update
  set queue_name = excluded.queue_name,
      function_name = excluded.function_name,
      last_heartbeat_at = v_now,
      stopped_at = null
  returning w.* into v_worker;
  return v_worker;
end;
$$;
