-- pgflow.refresh_grants(): grants again, to every role that holds an access level (see
-- pgflow.set_role_access), what that level covers now, so the functions and queue tables a release
-- adds reach the roles granted before it. Each release's functions migration calls it. A level is
-- recognised by a privilege that comes with it: EXECUTE on claim_tasks (worker), on start_flow
-- (client), on create_flow (admin), SELECT on pgflow.workers (reader).
create or replace function pgflow.refresh_grants()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_holder record;
begin
  for v_holder in
    select distinct r.rolname, marker.access
    from (values ('claim_tasks', 'worker'), ('start_flow', 'client'), ('create_flow', 'admin')) as marker(function_name, access)
    join pg_catalog.pg_proc p on p.proname = marker.function_name and p.pronamespace = 'pgflow'::regnamespace
    cross join lateral pg_catalog.aclexplode(p.proacl) grant_row
    join pg_catalog.pg_roles r on r.oid = grant_row.grantee
    where grant_row.privilege_type = 'EXECUTE' and grant_row.grantee <> p.proowner
    union
    select distinct r.rolname, 'reader'
    from pg_catalog.pg_class c
    cross join lateral pg_catalog.aclexplode(c.relacl) grant_row
    join pg_catalog.pg_roles r on r.oid = grant_row.grantee
    where c.oid = 'pgflow.workers'::regclass and grant_row.privilege_type = 'SELECT' and grant_row.grantee <> c.relowner
  loop
    perform pgflow.set_role_access(v_holder.rolname, v_holder.access, true);
  end loop;
end;
$$;
