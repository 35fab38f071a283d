-- pgflow.grant_reader(role_name): gives an existing role the reader access to pgflow described in
-- pgflow.set_role_access. Idempotent; pgflow.revoke_reader takes it back.
create or replace function pgflow.grant_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_reader.role_name, 'reader', true);
$$;
