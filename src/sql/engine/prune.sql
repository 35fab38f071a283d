-- pgflow.prune(older_than, batch_size): deletes every finished run that finished more than
-- `older_than` ago, with its step states, tasks, archived queue messages and schedule ticks, in
-- batches of `batch_size` runs (see pgflow.prune_batch), committing after each, so no lock is held
-- longer than one batch. Returns the totals. A procedure: `call pgflow.prune('30 days')`, outside a
-- transaction block (inside one, call pgflow.prune_batch in a loop instead). Each batch reports its
-- counts as a notice.
--
-- Unlike the functions, it has no `set search_path` clause: PostgreSQL refuses COMMIT in a procedure
-- that has one. Every name in it is schema-qualified, so the caller's search_path does not matter.
create or replace procedure pgflow.prune(
  older_than interval,
  batch_size integer default 10000,
  inout pruned_runs bigint default 0,
  inout pruned_step_states bigint default 0,
  inout pruned_step_tasks bigint default 0,
  inout pruned_messages bigint default 0
)
language plpgsql
as $$
declare
  v_batch record;
begin
  pruned_runs := 0;
  pruned_step_states := 0;
  pruned_step_tasks := 0;
  pruned_messages := 0;
  loop
    select * into v_batch from pgflow.prune_batch(prune.older_than, prune.batch_size);
    exit when v_batch.pruned_runs = 0;
    pruned_runs := pruned_runs + v_batch.pruned_runs;
    pruned_step_states := pruned_step_states + v_batch.pruned_step_states;
    pruned_step_tasks := pruned_step_tasks + v_batch.pruned_step_tasks;
    pruned_messages := pruned_messages + v_batch.pruned_messages;
    raise notice 'pruned % runs (% so far)', v_batch.pruned_runs, pruned_runs;
    commit;
  end loop;
end;
$$;
