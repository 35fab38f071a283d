-- pgflow.resume_flow(flow_slug): ends a pause (see pgflow.pause_flow): workers start the flow's
-- tasks again. Returns the flow; resuming a flow that is not paused changes nothing.
-- Event: flow:resumed. An unknown flow is an error.
create or replace function pgflow.resume_flow(flow_slug text)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
begin
  update pgflow.flows f
  set paused_at = null
  where f.flow_slug = resume_flow.flow_slug
  returning f.* into v_flow;
  if not found then
    raise exception 'flow "%" does not exist', resume_flow.flow_slug using errcode = '42704';
  end if;
  perform pgflow.emit_event('flow:resumed', v_flow.flow_slug, jsonb_build_object('status', 'resumed'));
  return v_flow;
end;
$$;
