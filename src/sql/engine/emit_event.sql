-- pgflow.emit_event(event_type, flow_slug, payload): publishes one engine event; see pgflow.emit_events.
create or replace function pgflow.emit_event(event_type text, flow_slug text, payload jsonb)
returns void
language sql
set search_path = ''
as $$
  select pgflow.emit_events($1, array[$2], array[$3]);
$$;
