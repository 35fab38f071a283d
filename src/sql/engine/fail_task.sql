-- pgflow.fail_task(run_id, step_slug, task_index, error_message): records a failed attempt of a
-- started task; returns the task.
--
-- With attempts left the task returns to `queued` and its message becomes visible again after
-- calculate_retry_delay(base_delay, attempts_count - 1) seconds (base_delay, then doubling). The last
-- allowed attempt fails the task, and then the whole run or, when the step's when_exhausted says so,
-- only the step, which is skipped (see pgflow.handle_exhausted_task); either way its message is archived.
-- Per-step options override the
-- flow's; max_attempts 0 counts as 1 (the attempt that failed was the only one). A map step's tasks
-- fail and retry one by one. Invariants: the run's row is locked first; a task that is not `started`, or
-- whose run has failed, is left alone and no row is returned; a task that does not exist is an error.
create or replace function pgflow.fail_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  error_message text
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_max_attempts integer;
  v_base_delay integer;
  v_task pgflow.step_tasks;
  v_now timestamptz;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = fail_task.run_id for update;
  if not found then
    raise exception 'run % does not exist', fail_task.run_id using errcode = '42704';
  end if;

  select greatest(coalesce(s.opt_max_attempts, f.opt_max_attempts), 1), coalesce(s.opt_base_delay, f.opt_base_delay)
  into v_max_attempts, v_base_delay
  from pgflow.steps s
  join pgflow.flows f on f.flow_slug = s.flow_slug
  where s.flow_slug = v_run.flow_slug and s.step_slug = fail_task.step_slug;
  if not found then
    raise exception 'step "%" does not exist in flow "%"', fail_task.step_slug, v_run.flow_slug using errcode = '42704';
  end if;

  if v_run.status <> 'started' then
    return;
  end if;
  -- The time, read once the run is locked (Citus allows no volatile function in an UPDATE of its tables).
  v_now := clock_timestamp();

  update pgflow.step_tasks t
  set status = case when t.attempts_count < v_max_attempts then 'queued' else 'failed' end,
      started_at = case when t.attempts_count < v_max_attempts then null else t.started_at end,
      failed_at = case when t.attempts_count < v_max_attempts then null else greatest(v_now, t.started_at) end,
      error_message = fail_task.error_message
  where t.run_id = fail_task.run_id
    and t.step_slug = fail_task.step_slug
    and t.task_index = fail_task.task_index
    and t.status = 'started'
  returning t.* into v_task;

  if not found then
    if not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = fail_task.run_id and t.step_slug = fail_task.step_slug and t.task_index = fail_task.task_index
    ) then
      raise exception 'task % of step "%" in run % does not exist', fail_task.task_index, fail_task.step_slug, fail_task.run_id
        using errcode = '42704';
    end if;
    return;
  end if;

  if v_task.status = 'queued' then
    perform pgmq.set_vt(v_task.flow_slug, v_task.message_id, pgflow.calculate_retry_delay(v_base_delay, v_task.attempts_count - 1));
  else
    -- Failed for good: its message leaves the queue now, whether the run fails or only the step is skipped.
    if v_task.message_id is not null then
      perform pgmq.archive(v_task.flow_slug, v_task.message_id);
    end if;
    perform pgflow.handle_exhausted_task(v_task.run_id, v_task.step_slug, v_task.error_message);
  end if;

  return next v_task;
end;
$$;
