-- pgflow.start_flow_with_states(flow_slug, input, run_id): starts a run like pgflow.start_flow and
-- returns it as pgflow.get_run_with_states does: {"run": {...}, "steps": [...]}.
create or replace function pgflow.start_flow_with_states(
  flow_slug text,
  input jsonb,
  run_id uuid default null
)
returns jsonb
language sql
set search_path = ''
as $$
  select pgflow.get_run_with_states(started.run_id)
  from pgflow.start_flow($1, $2, $3) as started;
$$;
