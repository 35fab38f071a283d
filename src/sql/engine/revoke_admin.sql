-- pgflow.revoke_admin(role_name): takes back the admin access level given by pgflow.grant_admin; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_admin(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_admin.role_name, 'admin', false);
$$;
