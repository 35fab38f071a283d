-- pgflow.set_role_access(role_name, access, granted): gives an existing role one access level to
-- pgflow, or takes it back — the work of pgflow.grant_worker / grant_client / grant_reader /
-- grant_admin and their revoke_* twins. The level is recorded in pgflow.role_access and its
-- privileges applied (pgflow.apply_role_access). Taking a level back revokes its privileges, then
-- applies again the levels the role still holds, so what those need stays granted.
--
-- Invariants: only an existing role is accepted (roles are cluster-wide: creating them is the DBA's);
-- pgflow.role_access lists exactly the levels granted and not revoked since; callable only by roles
-- pgflow's owner allows (EXECUTE is not PUBLIC), and granting needs the rights of the objects' owner.
create or replace function pgflow.set_role_access(role_name name, access text, granted boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_other text;
begin
  if set_role_access.role_name is null
    or not exists (select 1 from pg_catalog.pg_roles r where r.rolname = set_role_access.role_name) then
    raise exception 'role % does not exist', coalesce(quote_ident(set_role_access.role_name), 'NULL')
      using errcode = '42704', hint = 'Roles are cluster-wide: create it first (CREATE ROLE ... LOGIN), then grant it access to pgflow.';
  end if;
  if set_role_access.access is null or set_role_access.access not in ('worker', 'client', 'reader', 'admin') then
    raise exception 'unknown access level %: expected worker, client, reader or admin', coalesce(quote_literal(set_role_access.access), 'NULL')
      using errcode = '22023';
  end if;
  if set_role_access.role_name = (select n.nspowner::regrole::name from pg_catalog.pg_namespace n where n.nspname = 'pgflow') then
    raise exception 'role % owns pgflow: it has every right already and cannot be given an access level', quote_ident(set_role_access.role_name)
      using errcode = '22023', hint = 'Grant access levels to the roles your workers, services and dashboards connect as.';
  end if;

  if set_role_access.granted then
    insert into pgflow.role_access (role_name, access)
    values (set_role_access.role_name, set_role_access.access)
    on conflict on constraint role_access_pkey do nothing;
    perform pgflow.apply_role_access(set_role_access.role_name, set_role_access.access, true);
    return;
  end if;

  delete from pgflow.role_access a where a.role_name = set_role_access.role_name and a.access = set_role_access.access;
  perform pgflow.apply_role_access(set_role_access.role_name, set_role_access.access, false);
  for v_other in
    select a.access from pgflow.role_access a where a.role_name = set_role_access.role_name order by a.access
  loop
    perform pgflow.apply_role_access(set_role_access.role_name, v_other, true);
  end loop;
end;
$$;
