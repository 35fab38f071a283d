-- pgflow.claim_tasks(flow_slug, worker_id, qty): reads up to `qty` visible messages from the flow's
-- queue and starts their tasks in the same transaction — pgmq.read followed by pgflow.start_tasks
-- in one round trip and one commit. Returns the started tasks with their input, as start_tasks does,
-- plus the attempt each start counts (attempts_count), so a worker needs no second query.
--
-- The read hides each message for its step's timeout + 2 s at once, so no second visibility update
-- is needed (computed in bigint: a timeout at the integer maximum does not overflow). Invariants:
-- messages are claimed oldest first with FOR UPDATE SKIP LOCKED, so concurrent callers never receive
-- the same message; read_ct counts every delivery; otherwise those of pgflow.start_tasks. A message
-- whose task cannot start stays hidden for that time. A paused flow (pgflow.pause_flow) claims
-- nothing; messages read just as a pause commits are made visible again at once. A qty below 1
-- (22023), or NULL for qty or worker_id (22004), is refused before anything is read: NULL qty would
-- claim every visible message.
create or replace function pgflow.claim_tasks(
  flow_slug text,
  worker_id uuid,
  qty integer default 10
)
returns setof pgflow.claimed_task
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_timeout integer;
  v_paused boolean;
  v_msg_ids bigint[];
  v_step_timeouts jsonb;
begin
  if claim_tasks.qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if claim_tasks.qty < 1 then
    raise exception 'qty must be 1 or more, got %', claim_tasks.qty using errcode = '22023';
  end if;
  if claim_tasks.worker_id is null then
    raise exception 'worker_id must not be NULL'
      using errcode = '22004',
            hint = 'Pass the worker''s id: any UUID, registered on first use (or with pgflow.register_worker).';
  end if;

  select f.opt_timeout, f.paused_at is not null into v_timeout, v_paused from pgflow.flows f where f.flow_slug = claim_tasks.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', claim_tasks.flow_slug using errcode = '42704';
  end if;
  -- A paused flow starts nothing: its messages are not even read, so they stay visible.
  if v_paused then
    return;
  end if;

  -- The steps' own timeouts, read apart: the statement that claims touches the queue table alone, so on
  -- Citus it stays a plain local statement on the coordinator with single-server SKIP LOCKED semantics.
  select jsonb_object_agg(step.step_slug, step.opt_timeout) filter (where step.opt_timeout is not null) into v_step_timeouts
  from pgflow.steps step
  where step.flow_slug = claim_tasks.flow_slug;

  execute format(
    $sql$
      with claimed as (
        select q.msg_id, coalesce(($3 ->> (q.message ->> 'step_slug'))::bigint, $2) + 2 as hide_seconds
        from pgmq.%1$I as q
        where q.vt <= clock_timestamp()
        order by q.msg_id
        limit $1
        for update of q skip locked
      ),
      delivered as (
        update pgmq.%1$I as q
        set vt = clock_timestamp() + make_interval(secs => claimed.hide_seconds),
            read_ct = q.read_ct + 1
        from claimed
        where q.msg_id = claimed.msg_id
        returning q.msg_id
      )
      select array_agg(delivered.msg_id order by delivered.msg_id) from delivered
    $sql$,
    pgmq.format_table_name(claim_tasks.flow_slug, 'q')
  )
  into v_msg_ids
  using claim_tasks.qty, v_timeout, v_step_timeouts;

  if v_msg_ids is null then
    return;
  end if;
  return query select * from pgflow.start_tasks_from_messages(claim_tasks.flow_slug, v_msg_ids, claim_tasks.worker_id, false);

  -- A pause that committed after the check above: nothing started, and the messages read go back at
  -- once, to wait for resume_flow rather than for their timeout (the next claim sees the pause first).
  if not found and exists (select 1 from pgflow.flows f where f.flow_slug = claim_tasks.flow_slug and f.paused_at is not null) then
    perform pgflow.set_vt_batch(claim_tasks.flow_slug, v_msg_ids, array_fill(0, array[cardinality(v_msg_ids)]));
  end if;
end;
$$;
