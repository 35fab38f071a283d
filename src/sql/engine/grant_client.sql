-- pgflow.grant_client(role_name): gives an existing role the client access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_client takes it back.
create or replace function pgflow.grant_client(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_client.role_name, 'client', true);
$$;
