-- pgflow.revoke_reader(role_name): takes back what pgflow.grant_reader gave the role (privileges it
-- holds through another access level, or that were granted by hand, are revoked too where they overlap).
create or replace function pgflow.revoke_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_reader.role_name, 'reader', false);
$$;
