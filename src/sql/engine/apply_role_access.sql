-- pgflow.apply_role_access(role_name, access, granted): grants (or revokes) the privileges of one
-- access level to an existing role — functions, schema usage and table reads — without recording
-- anything; pgflow.set_role_access records the level and calls this. The levels:
--   worker  the worker protocol (start_tasks, claim_tasks, complete_task(s), fail_task, the worker
--           helpers, set_vt_batch, poll_for_tasks, fire_schedule), reading the flows' definitions
--           and schedules, registering and beating in pgflow.workers by plain SQL (insert, and update
--           of last_heartbeat_at and stopped_at), and reading (SELECT, UPDATE: what pgmq.read needs)
--           the flows' queues;
--   client  start_flow (every form), start_flows, start_flow_with_states, get_run_with_states, and reading runs,
--           step states and tasks;
--   reader  SELECT on every pgflow table and on the flows' queues and pgmq.meta (queue metrics);
--   admin   definitions (create_flow, add_step), run control (cancel_run, retry_run, pause_flow,
--           resume_flow), schedules and pruning, with everything client and reader have.
-- No level writes a table directly: the functions that change tables run with their owner's rights
-- (security definer).
--
-- Invariants: every identifier is quoted (format %I, regprocedure); the queue grants are those of
-- pgflow.apply_queue_access, flow by flow.
create or replace function pgflow.apply_role_access(role_name name, access text, granted boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_verb text := case when apply_role_access.granted then 'grant' else 'revoke' end;
  v_to text := case when apply_role_access.granted then 'to' else 'from' end;
  v_read text[] := array['version', 'is_valid_slug', 'calculate_retry_delay', 'cron_problem', 'get_run_with_states', 'step_input', 'step_output',
    'step_condition_met', 'idempotent_run_id'];
  v_worker text[] := array['start_tasks', 'claim_tasks', 'complete_task', 'complete_tasks', 'fail_task', 'register_worker', 'heartbeat_worker',
    'stop_worker', 'set_vt_batch', 'poll_for_tasks', 'fire_schedule', 'version', 'is_valid_slug', 'calculate_retry_delay'];
  v_client text[] := array['start_flow', 'start_flows', 'start_flow_with_states'];
  v_admin text[] := array['create_flow', 'add_step', 'cancel_run', 'retry_run', 'pause_flow', 'resume_flow', 'schedule_flow', 'unschedule_flow',
    'fire_schedule', 'prune_batch', 'prune'];
  v_all_tables text[] := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks', 'workers', 'schedules', 'schedule_ticks', 'role_access'];
  v_functions text[];
  v_tables text[];
  v_routine regprocedure;
  v_table text;
  v_flow text;
begin
  case apply_role_access.access
    when 'worker' then
      v_functions := v_worker;
      v_tables := array['flows', 'steps', 'deps', 'schedules'];
    when 'client' then
      v_functions := v_client || v_read;
      v_tables := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks'];
    when 'reader' then
      v_functions := v_read;
      v_tables := v_all_tables;
    when 'admin' then
      v_functions := v_admin || v_client || v_read;
      v_tables := v_all_tables;
    else
      raise exception 'unknown access level %: expected worker, client, reader or admin', coalesce(quote_literal(apply_role_access.access), 'NULL')
        using errcode = '22023';
  end case;

  execute format('%s usage on schema pgflow %s %I', v_verb, v_to, apply_role_access.role_name);
  for v_routine in
    select p.oid::regprocedure
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pgflow'::regnamespace and p.proname = any(v_functions)
  loop
    execute format('%s execute on routine %s %s %I', v_verb, v_routine, v_to, apply_role_access.role_name);
  end loop;
  foreach v_table in array v_tables loop
    execute format('%s select on table pgflow.%I %s %I', v_verb, v_table, v_to, apply_role_access.role_name);
  end loop;
  if apply_role_access.access = 'worker' then
    -- Workers that register and beat by plain SQL, as pgflow 0.8.1's reference shows.
    execute format('%s select, insert (worker_id, queue_name, function_name, started_at, last_heartbeat_at), update (last_heartbeat_at, stopped_at) '
      'on table pgflow.workers %s %I', v_verb, v_to, apply_role_access.role_name);
  end if;

  if apply_role_access.access <> 'client' then
    execute format('%s usage on schema pgmq %s %I', v_verb, v_to, apply_role_access.role_name);
    if apply_role_access.access <> 'worker' and pg_catalog.has_table_privilege('pgmq.meta', 'select with grant option') then
      execute format('%s select on table pgmq.meta %s %I', v_verb, v_to, apply_role_access.role_name);
    end if;
    for v_flow in select f.flow_slug from pgflow.flows f order by f.flow_slug loop
      perform pgflow.apply_queue_access(apply_role_access.role_name, apply_role_access.access, apply_role_access.granted, v_flow);
    end loop;
  end if;
end;
$$;
