-- pgflow.claim_tasks(flow_slug, worker_id, qty): reads up to `qty` visible messages from the flow's
-- queue and starts their tasks in the same transaction: pgmq.read followed by pgflow.start_tasks in
-- one round trip and one commit. Returns the started tasks with their input.
--
-- Invariants: those of pgmq.read and pgflow.start_tasks. Messages whose task cannot start stay hidden
-- for the flow's timeout + 2 s (or until the running task's deadline).
create or replace function pgflow.claim_tasks(
  flow_slug text,
  worker_id uuid,
  qty integer default 10
)
returns setof pgflow.step_task_record
language plpgsql
set search_path = ''
as $$
declare
  v_timeout integer;
  v_msg_ids bigint[];
begin
  select f.opt_timeout into v_timeout from pgflow.flows f where f.flow_slug = claim_tasks.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', claim_tasks.flow_slug using errcode = '42704';
  end if;
  v_msg_ids := array(select m.msg_id from pgmq.read(claim_tasks.flow_slug, v_timeout + 2, claim_tasks.qty) m);
  if cardinality(v_msg_ids) = 0 then
    return;
  end if;
  return query select * from pgflow.start_tasks(claim_tasks.flow_slug, v_msg_ids, claim_tasks.worker_id);
end;
$$;
