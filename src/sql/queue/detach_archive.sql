-- pgmq.detach_archive(queue_name): deprecated; does nothing but warn. The built-in queue is not
-- an extension, so its archive tables are never extension members and there is nothing to detach.
--
-- Invariants: changes nothing (as pgmq 1.6.0 and later).
create or replace function pgmq.detach_archive(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise warning 'pgmq.detach_archive(queue_name) is deprecated and does nothing; archive tables are never part of an extension';
end;
$$;
