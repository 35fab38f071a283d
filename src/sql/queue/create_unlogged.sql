-- pgmq.create_unlogged(queue_name): creates a queue whose message table pgmq.q_<name> is
-- UNLOGGED (cheaper writes, emptied after a crash); the archive pgmq.a_<name> stays logged.
-- Records the queue in pgmq.meta with is_unlogged = true (see pgmq._create_queue_tables).
--
-- Invariants: idempotent; safe when several sessions create the same queue at once.
create or replace function pgmq.create_unlogged(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgmq._create_queue_tables(queue_name, true);
end;
$$;
