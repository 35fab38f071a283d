-- pgflow.refresh_grants(): applies again every access level recorded in pgflow.role_access, so the
-- functions and tables a release adds reach the roles granted before it. Each release's functions
-- migration calls it. A recorded role that no longer exists is skipped; a role that can use schema
-- pgflow without any recorded level (set up by hand, or before access levels existed) is named in
-- a notice, since EXECUTE on pgflow's functions is no longer PUBLIC.
create or replace function pgflow.refresh_grants()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_holder record;
  v_unrecorded text;
begin
  for v_holder in
    select a.role_name, a.access
    from pgflow.role_access a
    join pg_catalog.pg_roles r on r.rolname = a.role_name
    order by a.role_name, a.access
  loop
    perform pgflow.apply_role_access(v_holder.role_name, v_holder.access, true);
  end loop;

  select string_agg(quote_ident(r.rolname), ', ' order by r.rolname) into v_unrecorded
  from pg_catalog.pg_namespace n
  cross join lateral pg_catalog.aclexplode(n.nspacl) grant_row
  join pg_catalog.pg_roles r on r.oid = grant_row.grantee
  where n.nspname = 'pgflow'
    and grant_row.privilege_type = 'USAGE'
    and grant_row.grantee <> n.nspowner
    and not exists (select 1 from pgflow.role_access a where a.role_name = r.rolname);
  if v_unrecorded is not null then
    raise notice 'roles % can use schema pgflow but hold no pgflow access level, and EXECUTE on pgflow''s functions is not granted to PUBLIC',
      v_unrecorded
      using hint = 'Give each the level it needs: select pgflow.grant_worker(''name''), grant_client, grant_reader or grant_admin.';
  end if;
end;
$$;
