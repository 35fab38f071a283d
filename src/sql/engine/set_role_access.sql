-- pgflow.set_role_access(role_name, access, granted): grants (or revokes) one level of access to
-- pgflow to an existing role — the work of pgflow.grant_worker / grant_client / grant_reader /
-- grant_admin and their revoke_* twins:
--   worker  the worker protocol (start_tasks, claim_tasks, complete_task(s), fail_task, the worker
--           helpers, set_vt_batch, poll_for_tasks, fire_schedule) and reading the flows' definitions
--           and schedules; SELECT and UPDATE on the flows' queue tables, which pgmq.read needs;
--   client  start_flow (every form), start_flow_with_states, get_run_with_states, and reading runs,
--           step states and tasks;
--   reader  SELECT on every pgflow table and on the queue tables (queue metrics);
--   admin   definitions (create_flow, add_step), run control (cancel_run, retry_run, pause_flow,
--           resume_flow), schedules and pruning, with everything client and reader have.
-- Functions are granted, not table writes: the functions that change tables run with their owner's
-- rights (security definer). Queue tables created later (new flows) get the same grants, by default
-- privileges of the role that runs this.
--
-- Invariants: only an existing role is accepted (roles are cluster-wide: creating them is the DBA's);
-- every identifier is quoted; callable only by roles pgflow's owner allows (EXECUTE is not PUBLIC).
create or replace function pgflow.set_role_access(role_name name, access text, granted boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_verb text := case when set_role_access.granted then 'grant' else 'revoke' end;
  v_to text := case when set_role_access.granted then 'to' else 'from' end;
  v_read text[] := array['version', 'is_valid_slug', 'calculate_retry_delay', 'cron_problem', 'get_run_with_states', 'step_input', 'step_output', 'step_condition_met', 'idempotent_run_id'];
  v_worker text[] := array['start_tasks', 'claim_tasks', 'complete_task', 'complete_tasks', 'fail_task', 'register_worker', 'heartbeat_worker',
    'stop_worker', 'set_vt_batch', 'poll_for_tasks', 'fire_schedule', 'version', 'is_valid_slug', 'calculate_retry_delay'];
  v_client text[] := array['start_flow', 'start_flow_with_states'];
  v_admin text[] := array['create_flow', 'add_step', 'cancel_run', 'retry_run', 'pause_flow', 'resume_flow', 'schedule_flow', 'unschedule_flow',
    'fire_schedule', 'prune_batch', 'prune'];
  v_functions text[];
  v_tables text[];
  v_queue_privileges text;
  v_routine regprocedure;
  v_table text;
begin
  if not exists (select 1 from pg_catalog.pg_roles r where r.rolname = set_role_access.role_name) then
    raise exception 'role % does not exist', coalesce(quote_ident(set_role_access.role_name), 'NULL')
      using errcode = '42704', hint = 'Roles are cluster-wide: create it first (CREATE ROLE ... LOGIN), then grant it access to pgflow.';
  end if;
  case set_role_access.access
    when 'worker' then
      v_functions := v_worker;
      v_tables := array['flows', 'steps', 'deps', 'schedules'];
      v_queue_privileges := 'select, update';
    when 'client' then
      v_functions := v_client || v_read;
      v_tables := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks'];
    when 'reader' then
      v_functions := v_read;
      v_tables := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks', 'workers', 'schedules', 'schedule_ticks'];
      v_queue_privileges := 'select';
    when 'admin' then
      v_functions := v_admin || v_client || v_read;
      v_tables := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks', 'workers', 'schedules', 'schedule_ticks'];
      v_queue_privileges := 'select';
    else
      raise exception 'unknown access level %: expected worker, client, reader or admin', coalesce(quote_literal(set_role_access.access), 'NULL')
        using errcode = '22023';
  end case;

  execute format('%s usage on schema pgflow %s %I', v_verb, v_to, set_role_access.role_name);
  for v_routine in
    select p.oid::regprocedure
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pgflow'::regnamespace and p.proname = any(v_functions)
  loop
    execute format('%s execute on routine %s %s %I', v_verb, v_routine, v_to, set_role_access.role_name);
  end loop;
  foreach v_table in array v_tables loop
    execute format('%s select on table pgflow.%I %s %I', v_verb, v_table, v_to, set_role_access.role_name);
  end loop;

  if v_queue_privileges is not null then
    execute format('%s usage on schema pgmq %s %I', v_verb, v_to, set_role_access.role_name);
    for v_table in
      select c.relname::text
      from pgflow.flows f
      cross join lateral (values (pgmq.format_table_name(f.flow_slug, 'q')), (pgmq.format_table_name(f.flow_slug, 'a'))) as t(name)
      join pg_catalog.pg_class c on c.relname = t.name and c.relnamespace = 'pgmq'::regnamespace
    loop
      execute format('%s %s on table pgmq.%I %s %I', v_verb, v_queue_privileges, v_table, v_to, set_role_access.role_name);
    end loop;
    execute format('alter default privileges in schema pgmq %s %s on tables %s %I', v_verb, v_queue_privileges, v_to, set_role_access.role_name);
  end if;
end;
$$;
