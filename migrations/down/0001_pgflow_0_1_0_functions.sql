-- Reverts 0001_pgflow_0_1_0_functions: removes the task queue and the engine's functions and types,
-- leaving the tables of 0000_pgflow_tables. Run by Kysely's `down`.
--
-- The queue: when the database uses the pgmq extension, only the flows' queues are dropped (the
-- extension and any other queue stay); otherwise the built-in queue's schema pgmq is dropped with
-- everything in it.
do $pgflow_down$
declare
  v_object record;
begin
  if exists (select 1 from pg_catalog.pg_extension e where e.extname = 'pgmq') then
    if to_regclass('pgflow.flows') is not null then
      for v_object in
        select f.flow_slug from pgflow.flows f
        where exists (select 1 from pgmq.meta m where m.queue_name = f.flow_slug)
      loop
        perform pgmq.drop_queue(v_object.flow_slug);
      end loop;
    end if;
  else
    drop schema if exists pgmq cascade;
  end if;

  if to_regnamespace('pgflow') is null then
    return;
  end if;
  for v_object in
    select p.oid::regprocedure as signature
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pgflow'::regnamespace
  loop
    execute format('drop function if exists %s', v_object.signature);
  end loop;
  for v_object in
    select t.oid::regtype as type_name
    from pg_catalog.pg_type t
    join pg_catalog.pg_class c on c.oid = t.typrelid
    where t.typnamespace = 'pgflow'::regnamespace and t.typtype = 'c' and c.relkind = 'c'
  loop
    execute format('drop type if exists %s', v_object.type_name);
  end loop;
end;
$pgflow_down$;
