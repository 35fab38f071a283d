-- pgflow.start_flow_with_states(flow_slug, input, run_id, idempotency_key): starts a run like
-- pgflow.start_flow (idempotently, given a key) and returns it as pgflow.get_run_with_states does:
-- {"run": {...}, "steps": [...]}.
--
-- The state is read in a statement of its own, after the run is created, so it sees the new rows.
create or replace function pgflow.start_flow_with_states(
  flow_slug text,
  input jsonb,
  run_id uuid default null,
  idempotency_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run_id uuid;
begin
  select started.run_id into v_run_id
  from pgflow.start_flow(
    start_flow_with_states.flow_slug,
    start_flow_with_states.input,
    start_flow_with_states.run_id,
    start_flow_with_states.idempotency_key
  ) as started;
  return pgflow.get_run_with_states(v_run_id);
end;
$$;
