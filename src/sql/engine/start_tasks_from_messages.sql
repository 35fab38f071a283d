-- pgflow.start_tasks_from_messages(flow_slug, msg_ids, worker_id, move_visibility): the work of
-- pgflow.start_tasks and pgflow.claim_tasks. Starts the tasks behind messages read from the flow's
-- queue and returns them with their input — {"run": <run input>, <dep>: <output>} for each direct
-- dependency that completed, or for a map step's task its element of the array — and the attempt each
-- start counts. `move_visibility` = false when the caller has already hidden the messages for the
-- right time (claim_tasks reads them that way). Nothing starts while the flow is paused.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent: the clock is
-- past started_at + timeout + 2 s. Each start counts an attempt, records the worker (registering an
-- unknown worker id) and hides the message until timeout + 2 s from now, so a dead worker's task
-- comes back once and only once that time has passed. A silent task with no attempt left fails
-- instead, with the run or only its step (pgflow.handle_exhausted_task). Messages of tasks still running get their visibility pushed to the task's deadline.
-- Invariants: tasks of runs that are not `started` never start; a task is started by one caller at a
-- time (its row is locked with SKIP LOCKED, in the same pass that reads it); failing a silent task
-- takes its run's row lock without waiting (SKIP LOCKED), so this never waits on a lock it could
-- deadlock on.
-- timeout + 2 is computed in bigint and a visibility offset is at most the integer maximum, so a
-- timeout at the integer maximum overflows nothing.
create or replace function pgflow.start_tasks_from_messages(
  flow_slug text,
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
  v_started pgflow.claimed_task[];
  v_started_messages bigint[];
  v_hide_seconds integer[];
  v_first_starts text[];
  v_first_runs uuid[];
  v_expired jsonb;
  v_task jsonb;
  v_error text;
  v_run_id uuid;
  v_run_messages bigint[];
begin
  select f.* into v_flow from pgflow.flows f where f.flow_slug = start_tasks_from_messages.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', start_tasks_from_messages.flow_slug using errcode = '42704';
  end if;
  -- Nothing starts while the flow is paused; the messages stay hidden for the time their read gave them.
  if coalesce(cardinality(start_tasks_from_messages.msg_ids), 0) = 0 or v_flow.paused_at is not null then
    return;
  end if;

  if start_tasks_from_messages.worker_id is not null
    and not exists (select 1 from pgflow.workers w where w.worker_id = start_tasks_from_messages.worker_id) then
    insert into pgflow.workers (worker_id, queue_name, function_name)
    values (start_tasks_from_messages.worker_id, start_tasks_from_messages.flow_slug, 'unregistered')
    on conflict on constraint workers_pkey do nothing;
  end if;

  -- A distributed install (Citus) starts them run by run, in statements it routes to each run's node.
  if pgflow.on_citus() then
    for v_run_id, v_run_messages in execute format(
      'select (q.message ->> ''run_id'')::uuid, array_agg(q.msg_id order by q.msg_id) from pgmq.%I q where q.msg_id = any($1) group by 1 order by 1',
      pgmq.format_table_name(start_tasks_from_messages.flow_slug, 'q')
    ) using start_tasks_from_messages.msg_ids loop
      v_started := coalesce(v_started, '{}') || array(select t from pgflow.start_run_tasks(start_tasks_from_messages.flow_slug, v_run_id,
        v_run_messages, start_tasks_from_messages.worker_id, start_tasks_from_messages.move_visibility) t);
    end loop;
    return query select t.* from unnest(v_started) t order by t.msg_id;
    return;
  end if;

  -- One pass over the messages' tasks: lock them, then start those that may start and note the
  -- silent ones that have no attempt left.
  with tasks as (
    select t.run_id, t.step_slug, t.task_index, t.status, t.attempts_count, s.step_type, s.deps_count,
      -- max_attempts 0 means one attempt, as 1 does
      greatest(coalesce(s.opt_max_attempts, v_flow.opt_max_attempts), 1) as max_attempts,
      coalesce(s.opt_timeout, v_flow.opt_timeout) as timeout,
      t.status = 'started'
        and clock_timestamp() >= t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout)::bigint + 2)
        as silent
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    where t.flow_slug = start_tasks_from_messages.flow_slug
      and t.message_id = any(start_tasks_from_messages.msg_ids)
      and t.status in ('queued', 'started')
      -- scalar subqueries keep every lookup on a primary key, whatever the table statistics say
      and (select r.status from pgflow.runs r where r.run_id = t.run_id) = 'started'
    for update of t skip locked
  ),
  -- The array a map task takes its element from, read once per run and step of this batch: indexing a
  -- large (TOASTed) array fetches and decompresses all of it, so it is copied here once rather than
  -- once per task. NULL for a map over a map, whose task i reads task i of the map before it.
  map_arrays as materialized (
    select m.run_id, m.step_slug,
      case
        when m.deps_count = 0 then (select r.input || '[]'::jsonb from pgflow.runs r where r.run_id = m.run_id)
        else (
          select dep_task.output || '[]'::jsonb
          from pgflow.deps d
          join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug
          join pgflow.step_tasks dep_task on dep_task.run_id = m.run_id and dep_task.step_slug = d.dep_slug and dep_task.task_index = 0
          where d.flow_slug = start_tasks_from_messages.flow_slug and d.step_slug = m.step_slug and dep_step.step_type = 'single'
        )
      end as items
    from (select distinct c.run_id, c.step_slug, c.deps_count from tasks c where c.step_type = 'map') m
  ),
  started as (
    update pgflow.step_tasks t
    set status = 'started',
        started_at = clock_timestamp(),
        attempts_count = t.attempts_count + 1,
        last_worker_id = start_tasks_from_messages.worker_id
    from tasks c
    where t.run_id = c.run_id
      and t.step_slug = c.step_slug
      and t.task_index = c.task_index
      and (c.status = 'queued' or (c.silent and c.attempts_count < c.max_attempts))
    returning c.timeout, row(
      t.flow_slug,
      t.run_id,
      t.step_slug,
      -- The input, built here rather than by pgflow.step_input because this is the hot path: a map
      -- task gets its element of the array it fans out over; a single step's task gets the run input
      -- and the output of each dependency that completed.
      case
        when c.step_type = 'map' then coalesce(
          (select a.items -> t.task_index from map_arrays a where a.run_id = t.run_id and a.step_slug = t.step_slug),
          (
            select x.output
            from pgflow.deps d
            join pgflow.step_tasks x on x.run_id = t.run_id and x.step_slug = d.dep_slug and x.task_index = t.task_index
            where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug
          )
        )
        else jsonb_build_object('run', (select r.input from pgflow.runs r where r.run_id = t.run_id)) || coalesce((
          select jsonb_object_agg(d.dep_slug, dep.output)
          from pgflow.deps d
          join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug
          cross join lateral (
            select x.output from pgflow.step_tasks x
            where dep_step.step_type = 'single'
              and x.run_id = t.run_id and x.step_slug = d.dep_slug and x.task_index = 0 and x.status = 'completed'
            union all
            select pgflow.step_output(t.run_id, d.dep_slug)
            where dep_step.step_type = 'map'
              and (select ds.status from pgflow.step_states ds where ds.run_id = t.run_id and ds.step_slug = d.dep_slug) = 'completed'
          ) dep(output)
          where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug
        ), '{}'::jsonb)
      end,
      t.message_id,
      t.task_index,
      t.attempts_count
    )::pgflow.claimed_task as task
  )
  select array_agg(started.task order by (started.task).msg_id),
    array_agg((started.task).msg_id),
    array_agg(least(started.timeout::bigint + 2, 2147483647)::integer),
    array_agg((started.task).step_slug) filter (where (started.task).attempts_count = 1),
    array_agg((started.task).run_id) filter (where (started.task).attempts_count = 1),
    (
      select jsonb_agg(jsonb_build_object('run_id', c.run_id, 'step_slug', c.step_slug, 'task_index', c.task_index,
        'attempts', c.attempts_count, 'max_attempts', c.max_attempts, 'timeout', c.timeout))
      from tasks c
      where c.silent and c.attempts_count >= c.max_attempts
    )
  into v_started, v_started_messages, v_hide_seconds, v_first_starts, v_first_runs, v_expired
  from started;

  -- A silent task with no attempt left fails, and then its run or, as its step's when_exhausted says,
  -- only its step (the task row is ours already).
  for v_task in select * from jsonb_array_elements(coalesce(v_expired, '[]'::jsonb))
  loop
    perform 1 from pgflow.runs r where r.run_id = (v_task ->> 'run_id')::uuid and r.status = 'started' for update skip locked;
    continue when not found;
    v_error := format('timed out: attempt %s of %s did not finish within %s s (timeout + 2 s)',
      v_task ->> 'attempts', v_task ->> 'max_attempts', (v_task ->> 'timeout')::bigint + 2);
    update pgflow.step_tasks t
    set status = 'failed', failed_at = clock_timestamp(), error_message = v_error
    where t.run_id = (v_task ->> 'run_id')::uuid
      and t.step_slug = v_task ->> 'step_slug'
      and t.task_index = (v_task ->> 'task_index')::integer
      and t.status = 'started';
    if found then
      perform pgflow.handle_exhausted_task((v_task ->> 'run_id')::uuid, v_task ->> 'step_slug', v_error);
    end if;
  end loop;

  -- A started task's message stays hidden until the task's deadline (timeout + 2 s after its start);
  -- so does the message of a task still running within its deadline, which was delivered again.
  if start_tasks_from_messages.move_visibility then
    if v_started_messages is not null then
      perform pgflow.set_vt_batch(start_tasks_from_messages.flow_slug, v_started_messages, v_hide_seconds);
    end if;
    if coalesce(cardinality(v_started_messages), 0) < cardinality(start_tasks_from_messages.msg_ids) then
      perform pgflow.set_vt_batch(
        start_tasks_from_messages.flow_slug,
        array_agg(t.message_id),
        array_agg(least(greatest(1, ceil(extract(epoch from
          t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout)::bigint + 2) - clock_timestamp()
        ))), 2147483647)::integer)
      )
      from pgflow.step_tasks t
      join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
      where t.flow_slug = start_tasks_from_messages.flow_slug
        and t.message_id = any(start_tasks_from_messages.msg_ids)
        and t.message_id <> all(coalesce(v_started_messages, '{}'))
        and t.status = 'started';
    end if;
  end if;

  -- step:started once per step: when its first task starts (a map step has many).
  if v_first_runs is not null then
    select array_agg(f.run_id order by f.ord), array_agg(f.step_slug order by f.ord)
    into v_first_runs, v_first_starts
    from (
      select distinct on (f.run_id, f.step_slug) f.run_id, f.step_slug, f.ord
      from unnest(v_first_runs, v_first_starts) with ordinality as f(run_id, step_slug, ord)
      order by f.run_id, f.step_slug, f.ord
    ) f
    where not exists (
      select 1 from pgflow.step_tasks x
      where x.run_id = f.run_id and x.step_slug = f.step_slug and x.attempts_count > 0
        and x.message_id <> all(v_started_messages)
    );
  end if;
  if v_first_runs is not null then
    perform pgflow.emit_events(
      'step:started',
      array_fill(start_tasks_from_messages.flow_slug, array[cardinality(v_first_runs)]),
      array(
        select jsonb_build_object('run_id', f.run_id, 'step_slug', f.step_slug, 'status', 'started', 'started_at', clock_timestamp())
        from unnest(v_first_runs, v_first_starts) with ordinality as f(run_id, step_slug, ord)
        order by f.ord
      )
    );
  end if;

  return query select * from unnest(v_started);
end;
$$;
