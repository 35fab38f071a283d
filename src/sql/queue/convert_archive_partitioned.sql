-- pgmq.convert_archive_partitioned(table_name, partition_interval, retention_interval,
-- leading_partition): not supported by the built-in queue. Partitioned archives are managed by
-- pg_partman through the real pgmq extension, so this always raises a clear error.
--
-- Invariants: changes nothing; the signature matches pgmq so callers get this error rather
-- than "function does not exist".
create or replace function pgmq.convert_archive_partitioned(
  table_name text,
  partition_interval text default '10000',
  retention_interval text default '100000',
  leading_partition integer default 10
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'partitioned archives are not supported by the built-in pgmq-compatible queue (queue "%")', table_name
    using errcode = 'feature_not_supported',
      hint = 'Partitioned archives need pg_partman and the real pgmq extension.';
end;
$$;
