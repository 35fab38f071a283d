-- pgflow.on_citus(): whether the database runs Citus (the citus extension is installed). Functions
-- whose set-based statements touch many runs at once, which Citus cannot plan over distributed tables,
-- then take a path that works one run at a time (see pgflow.start_run_tasks).
--
-- Invariants: reads one catalog table; true as soon as the extension exists, distributed or not (the
-- run-by-run path is correct on plain tables too, only slower).
create or replace function pgflow.on_citus()
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (select 1 from pg_catalog.pg_extension e where e.extname = 'citus');
$$;
