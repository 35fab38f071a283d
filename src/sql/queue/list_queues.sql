-- pgmq.list_queues(): every queue created with pgmq.create*, as recorded in pgmq.meta, by name.
--
-- Invariants: read-only; queue_name is returned as it was given to create (not lowercased).
create or replace function pgmq.list_queues()
returns setof pgmq.queue_record
language plpgsql
set search_path = ''
as $$
begin
  return query
  select m.queue_name, m.is_partitioned, m.is_unlogged, m.created_at
  from pgmq.meta as m
  order by m.queue_name;
end;
$$;
