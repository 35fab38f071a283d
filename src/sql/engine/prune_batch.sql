-- pgflow.prune_batch(older_than, batch_size): deletes up to `batch_size` finished runs (completed,
-- failed or cancelled) that finished more than `older_than` ago, oldest first, with their step
-- states, tasks, archived queue messages and schedule ticks. Returns what it deleted; a batch with
-- pruned_runs = 0 means nothing is left. pgflow.prune runs batches until then.
--
-- Invariants: only finished runs are touched, and their rows are taken with SKIP LOCKED, so a worker
-- or another prune is never waited on and work in progress is never affected; each call is one short
-- transaction of at most `batch_size` runs. Run ids are time-ordered, so the oldest runs are found at
-- the start of the primary key. A negative interval or a batch size below 1 is an error.
create or replace function pgflow.prune_batch(older_than interval, batch_size integer default 10000)
returns table (pruned_runs bigint, pruned_step_states bigint, pruned_step_tasks bigint, pruned_messages bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_runs uuid[];
  v_archive record;
  v_messages bigint := 0;
  v_count bigint;
  v_cutoff timestamptz;
  v_run_id uuid;
begin
  if prune_batch.older_than is null or prune_batch.older_than < interval '0' then
    raise exception 'older_than must be an interval of 0 or more, got %', coalesce(prune_batch.older_than::text, 'NULL') using errcode = '22023';
  end if;
  if prune_batch.batch_size is null or prune_batch.batch_size < 1 then
    raise exception 'batch_size must be 1 or more, got %', coalesce(prune_batch.batch_size::text, 'NULL') using errcode = '22023';
  end if;

  v_cutoff := clock_timestamp() - prune_batch.older_than;
  if pgflow.on_citus() then
    -- A distributed install (Citus) locks rows over many shards in no statement: the candidates are read
    -- first, then each is locked on its own (skipped when a worker or another prune holds it).
    foreach v_run_id in array array(
      select r.run_id
      from pgflow.runs r
      where r.status in ('completed', 'failed', 'cancelled')
        and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < v_cutoff
      order by r.run_id
      limit prune_batch.batch_size
    ) loop
      perform 1 from pgflow.runs r
      where r.run_id = v_run_id and r.status in ('completed', 'failed', 'cancelled')
      for update skip locked;
      if found then
        v_runs := v_runs || v_run_id;
      end if;
    end loop;
  else
    v_runs := array(
      select r.run_id
      from pgflow.runs r
      where r.status in ('completed', 'failed', 'cancelled')
        and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < v_cutoff
      order by r.run_id
      limit prune_batch.batch_size
      for update skip locked
    );
  end if;
  if coalesce(cardinality(v_runs), 0) = 0 then
    return query select 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    return;
  end if;

  -- Archived messages are found by their ids (the archive's primary key), one queue at a time.
  for v_archive in
    select t.flow_slug, array_agg(t.message_id) as message_ids
    from pgflow.step_tasks t
    where t.run_id = any(v_runs) and t.message_id is not null
    group by t.flow_slug
  loop
    if to_regclass(format('pgmq.%I', pgmq.format_table_name(v_archive.flow_slug, 'a'))) is not null then
      execute format('delete from pgmq.%I where msg_id = any($1)', pgmq.format_table_name(v_archive.flow_slug, 'a'))
      using v_archive.message_ids;
      get diagnostics v_count = row_count;
      v_messages := v_messages + v_count;
    end if;
  end loop;

  delete from pgflow.schedule_ticks st where st.run_id = any(v_runs);
  delete from pgflow.step_tasks t where t.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_step_tasks := v_count;
  delete from pgflow.step_states s where s.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_step_states := v_count;
  delete from pgflow.runs r where r.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_runs := v_count;
  pruned_messages := v_messages;
  return next;
end;
$$;
