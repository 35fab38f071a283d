-- pgmq.metrics_all(): pgmq.metrics() for every queue in pgmq.meta, by queue name.
--
-- Invariants: read-only; one row per pgmq.meta row.
create or replace function pgmq.metrics_all()
returns setof pgmq.metrics_result
language plpgsql
set search_path = ''
as $$
declare
  queue record;
begin
  for queue in select m.queue_name from pgmq.meta as m order by m.queue_name loop
    return next pgmq.metrics(queue.queue_name);
  end loop;
end;
$$;
