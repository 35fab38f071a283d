-- pgflow.register_worker(worker_id, queue_name, function_name): records a worker that serves the
-- queue; returns its row. Idempotent: registering again refreshes the heartbeat, the queue and the
-- function name, and clears stopped_at.
create or replace function pgflow.register_worker(
  worker_id uuid,
  queue_name text,
  function_name text
)
returns pgflow.workers
language sql
security definer
set search_path = ''
as $$
  insert into pgflow.workers as w (worker_id, queue_name, function_name)
  values ($1, $2, $3)
  on conflict on constraint workers_pkey do update
  set queue_name = excluded.queue_name,
      function_name = excluded.function_name,
      last_heartbeat_at = clock_timestamp(),
      stopped_at = null
  returning w.*;
$$;
