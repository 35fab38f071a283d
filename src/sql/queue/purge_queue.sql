-- pgmq.purge_queue(queue_name): removes every message from the queue (TRUNCATE) and returns how
-- many there were.
--
-- Invariants: the count is taken under the same ACCESS EXCLUSIVE lock as the TRUNCATE, so it
-- is exactly the number of messages removed; the archive is untouched; the identity is not
-- restarted, so msg_ids keep growing (and metrics' total_messages with them). An unknown queue
-- fails with 42P01 (see pgmq._queue_table).
create or replace function pgmq.purge_queue(queue_name text)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq._queue_table(queue_name);
  purged bigint;
begin
  execute format('lock table pgmq.%I in access exclusive mode', queue_table);
  execute format('select count(*) from pgmq.%I', queue_table) into purged;
  execute format('truncate table pgmq.%I', queue_table);
  return purged;
end;
$$;
