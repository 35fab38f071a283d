-- pgmq.create(queue_name): creates a queue (logged, not partitioned); see
-- pgmq.create_non_partitioned, which does the work.
--
-- Invariants: idempotent and safe under concurrent creators of the same queue.
create or replace function pgmq.create(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgmq.create_non_partitioned(queue_name);
end;
$$;
