-- pgflow.apply_queue_access(role_name, access, granted, queue_name): grants (or revokes) what one
-- access level needs on one flow's queue: a worker reads messages (SELECT and UPDATE on the queue
-- table, as pgmq.read needs); a reader or admin sees the queue, its archive and its message id
-- sequence (SELECT, for queue metrics); a client needs nothing (start_flow sends as pgflow's owner).
-- pgflow.create_flow calls it for every recorded access level when it creates a flow's queue.
--
-- Invariants: only tables that exist are touched (a flow whose queue is gone is skipped); table
-- names come from pgmq.format_table_name and are quoted with %I; never DELETE or INSERT.
create or replace function pgflow.apply_queue_access(role_name name, access text, granted boolean, queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_verb text := case when apply_queue_access.granted then 'grant' else 'revoke' end;
  v_to text := case when apply_queue_access.granted then 'to' else 'from' end;
  v_queue regclass := pg_catalog.to_regclass(format('pgmq.%I', pgmq.format_table_name(apply_queue_access.queue_name, 'q')));
  v_archive regclass := pg_catalog.to_regclass(format('pgmq.%I', pgmq.format_table_name(apply_queue_access.queue_name, 'a')));
  v_sequence text;
begin
  if v_queue is null or apply_queue_access.access = 'client' then
    return;
  end if;
  if apply_queue_access.access = 'worker' then
    execute format('%s select, update on table %s %s %I', v_verb, v_queue, v_to, apply_queue_access.role_name);
    return;
  end if;
  execute format('%s select on table %s %s %I', v_verb, v_queue, v_to, apply_queue_access.role_name);
  if v_archive is not null then
    execute format('%s select on table %s %s %I', v_verb, v_archive, v_to, apply_queue_access.role_name);
  end if;
  v_sequence := pg_catalog.pg_get_serial_sequence(v_queue::text, 'msg_id');
  if v_sequence is not null then
    execute format('%s select on sequence %s %s %I', v_verb, v_sequence, v_to, apply_queue_access.role_name);
  end if;
end;
$$;
