-- pgmq._queue_table(queue_name): the name of an existing queue's message table (`q_<name>`, lower
-- case), for the functions that work on one queue; a clear error when there is no such queue.
--
-- Invariants: every per-queue function (send, send_batch, read, read_with_poll, pop, set_vt, delete,
-- archive, metrics, purge_queue) calls this before it builds any SQL, so an unknown queue always
-- fails with `queue "<name>" does not exist` and SQLSTATE 42P01 (undefined_table, the code the pgmq
-- extension's raw error has) rather than a message about a table the caller never named; a NULL
-- name fails with 22004. The check is one catalog lookup (to_regclass), no subtransaction, so the
-- hot path (pgmq.read) stays cheap. Names with forbidden characters are refused by
-- pgmq.format_table_name first.
create or replace function pgmq._queue_table(queue_name text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_table text;
begin
  if queue_name is null then
    raise exception 'queue name must not be NULL' using errcode = '22004';
  end if;
  v_table := pgmq.format_table_name(queue_name, 'q');
  if to_regclass(format('pgmq.%I', v_table)) is null then
    raise exception 'queue "%" does not exist', queue_name
      using errcode = '42P01',
            hint = format('Create it with pgmq.create(%L); pgmq.list_queues() lists the queues that exist.', queue_name);
  end if;
  return v_table;
end;
$$;
