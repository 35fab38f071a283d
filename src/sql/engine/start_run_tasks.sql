-- pgflow.start_run_tasks(flow_slug, run_id, msg_ids, worker_id, move_visibility): what
-- pgflow.start_tasks_from_messages does, for the messages of one run, in statements that name the run id
-- in every read and write of a runtime table. On a distributed install (Citus) each of them is routed
-- whole to the node holding the run, FOR UPDATE SKIP LOCKED included; start_tasks_from_messages calls
-- this once per run there, and its set-based statement everywhere else.
--
-- Same rules as start_tasks_from_messages: nothing starts unless the run is `started`; a task starts when
-- it is `queued`, or `started` by a worker that went silent (past started_at + timeout + 2 s) with an
-- attempt left; a silent task with none left fails (pgflow.handle_exhausted_task); each start counts an
-- attempt, records the worker and hides the message until timeout + 2 s from now; the message of a task
-- still running within its deadline is hidden until that deadline; step:started once per step.
-- `msg_ids` are this run's messages. Citus commits a distributed transaction on the coordinator first, so
-- a message can be read before its run's rows on a worker node are visible: such a message is made
-- visible again at once (pgflow.retry_unseen_messages) rather than left hidden for a whole timeout.
-- Invariants: a task row is locked (SKIP LOCKED) in the statement that reads it, so it is started by one
-- caller at a time; the run's row is taken without waiting before a silent task fails it.
create or replace function pgflow.start_run_tasks(
  flow_slug text,
  run_id uuid,
  msg_ids bigint[],
  worker_id uuid,
  move_visibility boolean
)
returns setof pgflow.claimed_task
language plpgsql
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
  v_run pgflow.runs;
  v_now timestamptz;
  v_task record;
  v_attempts integer;
  v_input jsonb;
  v_items jsonb;
  v_items_step text;
  v_started pgflow.claimed_task[] := '{}';
  v_started_messages bigint[] := '{}';
  v_hide_messages bigint[] := '{}';
  v_hide_seconds integer[] := '{}';
  v_first_steps text[] := '{}';
  v_error text;
begin
  select f.* into v_flow from pgflow.flows f where f.flow_slug = start_run_tasks.flow_slug;
  select r.* into v_run from pgflow.runs r where r.run_id = start_run_tasks.run_id;
  if v_run.status is distinct from 'started' then
    perform pgflow.retry_unseen_messages(start_run_tasks.flow_slug, start_run_tasks.run_id, start_run_tasks.msg_ids);
    return;
  end if;

  for v_task in
    select t.step_slug, t.task_index, t.status, t.attempts_count, t.started_at, t.message_id, s.step_type, s.deps_count,
      greatest(coalesce(s.opt_max_attempts, v_flow.opt_max_attempts), 1) as max_attempts,
      coalesce(s.opt_timeout, v_flow.opt_timeout) as timeout
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    where t.run_id = start_run_tasks.run_id
      and t.flow_slug = start_run_tasks.flow_slug
      and t.message_id = any(start_run_tasks.msg_ids)
      and t.status in ('queued', 'started')
    order by t.message_id
    for update of t skip locked
  loop
    v_now := clock_timestamp();
    if v_task.status = 'started' and v_now < v_task.started_at + make_interval(secs => v_task.timeout::bigint + 2) then
      -- Still running within its deadline: its message stays hidden until then.
      v_hide_messages := v_hide_messages || v_task.message_id;
      v_hide_seconds := v_hide_seconds || least(greatest(1, ceil(extract(epoch from
        v_task.started_at + make_interval(secs => v_task.timeout::bigint + 2) - v_now))), 2147483647)::integer;
      continue;
    end if;

    if v_task.status = 'started' and v_task.attempts_count >= v_task.max_attempts then
      -- Silent with no attempt left: the task fails, and its run or only its step with it.
      perform 1 from pgflow.runs r where r.run_id = start_run_tasks.run_id and r.status = 'started' for update skip locked;
      continue when not found;
      v_error := format('timed out: attempt %s of %s did not finish within %s s (timeout + 2 s)',
        v_task.attempts_count, v_task.max_attempts, v_task.timeout::bigint + 2);
      update pgflow.step_tasks t
      set status = 'failed', failed_at = v_now, error_message = v_error
      where t.run_id = start_run_tasks.run_id and t.step_slug = v_task.step_slug and t.task_index = v_task.task_index
        and t.status = 'started';
      if found then
        perform pgflow.handle_exhausted_task(start_run_tasks.run_id, v_task.step_slug, v_error);
      end if;
      continue;
    end if;

    update pgflow.step_tasks t
    set status = 'started', started_at = v_now, attempts_count = t.attempts_count + 1, last_worker_id = start_run_tasks.worker_id
    where t.run_id = start_run_tasks.run_id and t.step_slug = v_task.step_slug and t.task_index = v_task.task_index
    returning t.attempts_count into v_attempts;

    if v_task.step_type = 'map' then
      -- The array it fans out over (the run's input for a root map), read once per step of this run.
      if v_items_step is distinct from v_task.step_slug then
        v_items_step := v_task.step_slug;
        if v_task.deps_count = 0 then
          v_items := v_run.input;
        else
          v_items := pgflow.step_output(start_run_tasks.run_id,
            (select d.dep_slug from pgflow.deps d where d.flow_slug = start_run_tasks.flow_slug and d.step_slug = v_task.step_slug));
        end if;
      end if;
      v_input := v_items -> v_task.task_index;
    else
      v_input := pgflow.step_input(start_run_tasks.run_id, v_task.step_slug);
    end if;

    v_started := v_started || row(start_run_tasks.flow_slug, start_run_tasks.run_id, v_task.step_slug, v_input,
      v_task.message_id, v_task.task_index, v_attempts)::pgflow.claimed_task;
    v_started_messages := v_started_messages || v_task.message_id;
    v_hide_messages := v_hide_messages || v_task.message_id;
    v_hide_seconds := v_hide_seconds || least(v_task.timeout::bigint + 2, 2147483647)::integer;
    -- step:started when the step's first task starts (a map step has many).
    if v_attempts = 1 and not v_task.step_slug = any(v_first_steps) and not exists (
      select 1 from pgflow.step_tasks x
      where x.run_id = start_run_tasks.run_id and x.step_slug = v_task.step_slug and x.attempts_count > 0
        and x.task_index <> v_task.task_index
        and coalesce(x.message_id <> all(v_started_messages), true)
    ) then
      v_first_steps := v_first_steps || v_task.step_slug;
    end if;
  end loop;

  perform pgflow.retry_unseen_messages(start_run_tasks.flow_slug, start_run_tasks.run_id,
    array(select m from unnest(start_run_tasks.msg_ids) m where m <> all(v_hide_messages)));
  if start_run_tasks.move_visibility and cardinality(v_hide_messages) > 0 then
    perform pgflow.set_vt_batch(start_run_tasks.flow_slug, v_hide_messages, v_hide_seconds);
  end if;
  if cardinality(v_first_steps) > 0 then
    perform pgflow.emit_events(
      'step:started',
      array_fill(start_run_tasks.flow_slug, array[cardinality(v_first_steps)]),
      array(
        select jsonb_build_object('run_id', start_run_tasks.run_id, 'step_slug', f.step_slug, 'status', 'started', 'started_at', clock_timestamp())
        from unnest(v_first_steps) with ordinality as f(step_slug, ord)
        order by f.ord
      )
    );
  end if;
  return query select * from unnest(v_started);
end;
$$;
