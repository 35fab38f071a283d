-- pgflow.retry_unseen_messages(flow_slug, run_id, msg_ids): makes visible again, at once, those of the
-- run's messages read by a claim that could not start their task: the task was not visible to it yet, or
-- still locked. On Citus a distributed transaction commits on the coordinator (where the queue is) before
-- the worker nodes (where the run's rows are), so a worker can read a message an instant before its task
-- exists for it (or while the task's row is still held by that commit); without this the message would
-- stay hidden for the read's whole visibility timeout. The caller passes the messages it did not start.
--
-- Invariants: touches only the given messages whose task is missing or still `queued` (one started,
-- finished or failed meanwhile is left alone); reads the run's tasks with the run id named, so Citus
-- routes the read to the run's node.
create or replace function pgflow.retry_unseen_messages(flow_slug text, run_id uuid, msg_ids bigint[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_unseen bigint[];
begin
  if coalesce(cardinality(retry_unseen_messages.msg_ids), 0) = 0 then
    return;
  end if;
  select array_agg(m.msg_id) into v_unseen
  from unnest(retry_unseen_messages.msg_ids) as m(msg_id)
  where m.msg_id <> all(array(
    select t.message_id
    from pgflow.step_tasks t
    where t.run_id = retry_unseen_messages.run_id
      and t.message_id = any(retry_unseen_messages.msg_ids)
      and t.status <> 'queued'
  ));
  if v_unseen is not null then
    perform pgflow.set_vt_batch(retry_unseen_messages.flow_slug, v_unseen, array_fill(0, array[cardinality(v_unseen)]));
  end if;
end;
$$;
