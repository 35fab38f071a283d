-- pgflow.grant_reader(role_name): gives an existing role the reader access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_reader takes it back.
create or replace function pgflow.grant_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_reader.role_name, 'reader', true);
$$;
