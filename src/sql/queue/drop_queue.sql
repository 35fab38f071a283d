-- pgmq.drop_queue(queue_name [, partitioned]): deletes a queue: its message table, its archive
-- table and its pgmq.meta row. Returns true, or false with a NOTICE when there is no such queue.
-- The two-argument form is deprecated: it warns and then does the same.
--
-- Invariants: serialised with pgmq.create* on the same queue name by the same advisory lock;
-- removes every pgmq.meta row that maps to the dropped tables (names differing only in case map
-- to the same tables), so list_queues never lists a queue whose tables are gone.
create or replace function pgmq.drop_queue(queue_name text)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  archive_table text := pgmq.format_table_name(queue_name, 'a');
begin
  perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));

  if to_regclass(format('pgmq.%I', queue_table)) is null
    and not exists (select 1 from pgmq.meta as m where lower(m.queue_name) = lower(drop_queue.queue_name)) then
    raise notice 'pgmq queue `%` does not exist', queue_name;
    return false;
  end if;

  execute format('drop table if exists pgmq.%I', queue_table);
  execute format('drop table if exists pgmq.%I', archive_table);
  delete from pgmq.meta as m where lower(m.queue_name) = lower(drop_queue.queue_name);
  return true;
end;
$$;

create or replace function pgmq.drop_queue(queue_name text, partitioned boolean)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  raise warning 'pgmq.drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0; use pgmq.drop_queue(queue_name) instead';
  return pgmq.drop_queue(queue_name);
end;
$$;
