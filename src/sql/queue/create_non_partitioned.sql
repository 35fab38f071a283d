-- pgmq.create_non_partitioned(queue_name): creates a queue: table pgmq.q_<name> (messages),
-- table pgmq.a_<name> (archive), their indexes, and a row in pgmq.meta (see
-- pgmq._create_queue_tables, which does the work).
--
-- Invariants: idempotent; safe when several sessions create the same queue at once.
create or replace function pgmq.create_non_partitioned(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgmq._create_queue_tables(queue_name, false);
end;
$$;
