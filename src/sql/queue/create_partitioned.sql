-- pgmq.create_partitioned(queue_name, partition_interval, retention_interval): not supported by
-- the built-in queue. Partitioned queues are managed by pg_partman through the real pgmq
-- extension, so this always raises a clear error.
--
-- Invariants: creates nothing; the signature matches pgmq so callers get this error rather
-- than "function does not exist".
create or replace function pgmq.create_partitioned(
  queue_name text,
  partition_interval text default '10000',
  retention_interval text default '100000'
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'partitioned queues are not supported by the built-in pgmq-compatible queue (queue "%")', queue_name
    using errcode = 'feature_not_supported',
      hint = 'Partitioned queues need pg_partman and the real pgmq extension. Install both, or use pgmq.create() for a non-partitioned queue.';
end;
$$;
