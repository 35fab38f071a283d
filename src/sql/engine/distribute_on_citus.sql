-- pgflow.distribute_on_citus(): turns an installed pgflow on a Citus coordinator into a distributed one
-- and returns one line per change it made (none when everything was distributed already).
--
-- Definitions and other small tables (flows, steps, deps, workers, schedules, schedule_ticks,
-- role_access) become reference tables, copied to every node; runs, step_states and step_tasks are
-- distributed by run_id and co-located, so every row of one run lives on one node. The queue tables
-- (schema pgmq) stay plain tables on the coordinator: claiming with FOR UPDATE SKIP LOCKED keeps its
-- single-server meaning there, so a message is delivered once exactly as without Citus.
--
-- Invariants: idempotent (a table already in its place is left alone); refuses, changing nothing, when
-- the citus extension is absent or this is not the coordinator. Foreign keys are dropped while tables
-- move and added back as they were (Citus accepts all of them once the tables are placed: reference to
-- reference, distributed to reference, and distributed to distributed through run_id). No function is
-- lost: the definitions, owners, privileges and comments of every function in schemas pgflow and pgmq
-- are recorded first, any function Citus dropped on the way is created again from that record, and the
-- call fails (rolling everything back) if one is still missing. Only pgflow.get_run_with_states, which
-- reads one run and emits no event, is delegated to the node holding the run; every function that
-- sends events or touches the queue runs on the coordinator, so LISTENers there hear every event.
create or replace function pgflow.distribute_on_citus()
returns setof text
language plpgsql
set search_path = ''
as $$
declare
  v_reference constant text[] := array['flows', 'steps', 'deps', 'workers', 'schedules', 'schedule_ticks', 'role_access'];
  v_distributed constant text[] := array['runs', 'step_states', 'step_tasks'];
  v_table text;
  v_todo text[] := '{}';
  v_functions jsonb;
  v_function jsonb;
  v_foreign_keys jsonb;
  v_key jsonb;
  v_missing text[];
  v_method "char";
  v_colocated boolean;
  v_grant record;
begin
  if not exists (select 1 from pg_catalog.pg_extension e where e.extname = 'citus') then
    raise exception 'the citus extension is not installed in this database'
      using errcode = '0A000',
            hint = 'pgflow.distribute_on_citus() needs a Citus coordinator: load citus (shared_preload_libraries), '
              || 'run CREATE EXTENSION citus on the coordinator and on every worker node, and add the workers with citus_add_node.';
  end if;
  if not (select pg_catalog.bool_or(n.groupid = 0) from pg_catalog.pg_dist_node n where n.isactive) then
    raise exception 'this database is not a Citus coordinator: its pg_dist_node has no coordinator'
      using errcode = '0A000',
            hint = 'Run SELECT citus_set_coordinator_host(<host>, <port>) on the coordinator first, and call pgflow.distribute_on_citus() there.';
  end if;
  if not exists (select 1 from pg_catalog.pg_dist_node n where n.isactive and n.groupid <> 0) then
    raise exception 'the Citus cluster has no worker node'
      using errcode = '0A000',
            hint = 'Add the worker nodes first: SELECT citus_add_node(<host>, <port>) for each.';
  end if;

  -- What is not in its place yet.
  foreach v_table in array v_reference || v_distributed loop
    select p.partmethod into v_method
    from pg_catalog.pg_dist_partition p
    where p.logicalrelid = pg_catalog.to_regclass('pgflow.' || v_table);
    if v_table = any(v_reference) and v_method is distinct from 'n' then
      v_todo := v_todo || v_table;
    elsif v_table = any(v_distributed) and v_method is distinct from 'h' then
      v_todo := v_todo || v_table;
    end if;
  end loop;

  if cardinality(v_todo) > 0 then
    -- Every function of pgflow and of the built-in queue, as installed now.
    select coalesce(jsonb_agg(jsonb_build_object(
      'signature', p.oid::pg_catalog.regprocedure::text,
      'definition', pg_catalog.pg_get_functiondef(p.oid),
      'owner', pg_catalog.pg_get_userbyid(p.proowner),
      'acl', p.proacl::text[],
      'comment', pg_catalog.obj_description(p.oid, 'pg_proc'))), '[]'::jsonb)
    into v_functions
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname in ('pgflow', 'pgmq') and p.prokind in ('f', 'p');

    -- Every foreign key between pgflow's tables, dropped while the tables move.
    select coalesce(jsonb_agg(jsonb_build_object(
      'table', c.conrelid::pg_catalog.regclass::text,
      'name', c.conname,
      'definition', pg_catalog.pg_get_constraintdef(c.oid)) order by c.conrelid::pg_catalog.regclass::text, c.conname), '[]'::jsonb)
    into v_foreign_keys
    from pg_catalog.pg_constraint c
    join pg_catalog.pg_namespace n on n.oid = c.connamespace
    where n.nspname = 'pgflow' and c.contype = 'f';

    -- Foreign keys to reference tables need every later command of this transaction on one connection
    -- per node.
    perform pg_catalog.set_config('citus.multi_shard_modify_mode', 'sequential', true);
    for v_key in select * from jsonb_array_elements(v_foreign_keys) loop
      execute format('alter table %s drop constraint %I', v_key ->> 'table', v_key ->> 'name');
    end loop;

    foreach v_table in array v_reference loop
      if v_table = any(v_todo) then
        perform pg_catalog.create_reference_table(('pgflow.' || v_table)::pg_catalog.regclass);
        return next format('pgflow.%s: reference table', v_table);
      end if;
    end loop;
    foreach v_table in array v_distributed loop
      if v_table = any(v_todo) then
        if v_table = 'runs' then
          perform pg_catalog.create_distributed_table('pgflow.runs'::pg_catalog.regclass, 'run_id');
        else
          perform pg_catalog.create_distributed_table(('pgflow.' || v_table)::pg_catalog.regclass, 'run_id', colocate_with => 'pgflow.runs');
        end if;
        return next format('pgflow.%s: distributed by run_id%s', v_table, case when v_table = 'runs' then '' else ', co-located with pgflow.runs' end);
      end if;
    end loop;

    for v_key in select * from jsonb_array_elements(v_foreign_keys) loop
      execute format('alter table %s add constraint %I %s', v_key ->> 'table', v_key ->> 'name', v_key ->> 'definition');
    end loop;

    -- Functions Citus dropped while converting tables come back as they were.
    for v_function in
      select f from jsonb_array_elements(v_functions) f
      where pg_catalog.to_regprocedure(f ->> 'signature') is null
    loop
      execute v_function ->> 'definition';
      execute format('alter function %s owner to %I', v_function ->> 'signature', v_function ->> 'owner');
      if jsonb_typeof(v_function -> 'acl') = 'array' then
        execute format('revoke all on function %s from public', v_function ->> 'signature');
        for v_grant in
          select case when g.grantee = 0 then 'public' else quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) end as grantee
          from pg_catalog.aclexplode(array(select jsonb_array_elements_text(v_function -> 'acl'))::pg_catalog.aclitem[]) g
          where g.privilege_type = 'EXECUTE'
        loop
          execute format('grant execute on function %s to %s', v_function ->> 'signature', v_grant.grantee);
        end loop;
      end if;
      if v_function ->> 'comment' is not null then
        execute format('comment on function %s is %L', v_function ->> 'signature', v_function ->> 'comment');
      end if;
      return next format('%s: created again after Citus dropped it', v_function ->> 'signature');
    end loop;

    select array_agg(f ->> 'signature') into v_missing
    from jsonb_array_elements(v_functions) f
    where pg_catalog.to_regprocedure(f ->> 'signature') is null;
    if v_missing is not null then
      raise exception 'distributing pgflow would lose functions: %', array_to_string(v_missing, ', ')
        using errcode = 'XX000';
    end if;
  end if;

  -- Reading one run runs on the node that holds it.
  select exists (
    select 1 from pg_catalog.pg_dist_object o
    where o.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
      and o.objid = 'pgflow.get_run_with_states(uuid)'::pg_catalog.regprocedure
      and o.distribution_argument_index is not null
  ) into v_colocated;
  if not v_colocated then
    perform pg_catalog.create_distributed_function('pgflow.get_run_with_states(uuid)', distribution_arg_name => 'run_id', colocate_with => 'pgflow.runs');
    return next 'pgflow.get_run_with_states(uuid): delegated to the node holding the run';
  end if;
end;
$$;
