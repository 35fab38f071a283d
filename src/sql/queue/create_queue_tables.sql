-- pgmq._create_queue_tables(queue_name, unlogged): the work of pgmq.create_non_partitioned and
-- pgmq.create_unlogged. Creates table pgmq.q_<name> (messages; UNLOGGED when asked), table
-- pgmq.a_<name> (the archive, always logged), their indexes, and the queue's row in pgmq.meta.
--
-- Invariants: idempotent (IF NOT EXISTS everywhere, meta insert ignores an existing row);
-- safe when several sessions create the same queue at once, because they are serialised by a
-- transaction-level advisory lock on the queue name; msg_id comes from the identity sequence
-- pgmq.q_<name>_msg_id_seq, which pgmq.metrics reads by that name.
create or replace function pgmq._create_queue_tables(queue_name text, unlogged boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  archive_table text := pgmq.format_table_name(queue_name, 'a');
begin
  perform pgmq.validate_queue_name(queue_name);
  perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));
  execute format(
    'create %s table if not exists pgmq.%I (
      msg_id bigint primary key generated always as identity,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    case when unlogged then 'unlogged' else '' end,
    queue_table
  );
  execute format(
    'create table if not exists pgmq.%I (
      msg_id bigint primary key,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      archived_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    archive_table
  );
  execute format('create index if not exists %I on pgmq.%I (vt asc)', queue_table || '_vt_idx', queue_table);
  execute format('create index if not exists %I on pgmq.%I (archived_at)', 'archived_at_idx_' || queue_name, archive_table);
  insert into pgmq.meta (queue_name, is_partitioned, is_unlogged)
  values (queue_name, false, unlogged)
  on conflict do nothing;
end;
$$;
