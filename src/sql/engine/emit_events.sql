-- pgflow.emit_events(event_type, flow_slugs, payloads): publishes one event per element, in array
-- order, with pgflow.emit_event (element i: flow_slugs[i], payloads[i]).
create or replace function pgflow.emit_events(event_type text, flow_slugs text[], payloads jsonb[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgflow.emit_event(emit_events.event_type, ev.flow_slug, ev.payload)
  from unnest(emit_events.flow_slugs, emit_events.payloads) with ordinality as ev(flow_slug, payload, ord)
  order by ev.ord;
end;
$$;
