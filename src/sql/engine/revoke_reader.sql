-- pgflow.revoke_reader(role_name): takes back the reader access level given by pgflow.grant_reader; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_reader.role_name, 'reader', false);
$$;
