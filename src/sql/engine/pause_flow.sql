-- pgflow.pause_flow(flow_slug): pauses a flow: until pgflow.resume_flow, workers start none of its
-- tasks (claim_tasks reads nothing, so its messages stay queued and visible, and gives back at once
-- any it read as the pause committed; start_tasks starts nothing, so messages a worker read itself
-- with pgmq.read stay hidden for the time that read gave them).
-- Tasks already running finish normally, and start_flow still accepts runs. Returns the flow; pausing
-- a paused flow changes nothing. Event: flow:paused. An unknown flow is an error.
create or replace function pgflow.pause_flow(flow_slug text)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
  -- Read as a value: Citus allows no volatile function in an UPDATE of its (reference) tables.
  v_now timestamptz := clock_timestamp();
begin
  update pgflow.flows f
  set paused_at = coalesce(f.paused_at, v_now)
  where f.flow_slug = pause_flow.flow_slug
  returning f.* into v_flow;
  if not found then
    raise exception 'flow "%" does not exist', pause_flow.flow_slug using errcode = '42704';
  end if;
  perform pgflow.emit_event('flow:paused', v_flow.flow_slug, jsonb_build_object('status', 'paused', 'paused_at', v_flow.paused_at));
  return v_flow;
end;
$$;
