-- pgflow.emit_event(event_type, flow_slug, payload): publishes one engine event with pg_notify, on
-- channel `pgflow_events` and on the channel named after the flow.
--
-- The notification is {"event", "topic", "timestamp", "payload"}; the payload carries event_type and
-- flow_slug besides the caller's fields. Payloads never include step outputs and error messages are
-- cut to 1000 characters, so a notification stays well below pg_notify's 8000-byte limit. Listeners
-- receive events in commit order, and in call order within a transaction.
create or replace function pgflow.emit_event(event_type text, flow_slug text, payload jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_payload jsonb := jsonb_build_object('event_type', emit_event.event_type, 'flow_slug', emit_event.flow_slug) || emit_event.payload;
  v_notification text;
begin
  if length(v_payload ->> 'error_message') > 1000 then
    v_payload := v_payload || jsonb_build_object('error_message', left(v_payload ->> 'error_message', 997) || '...');
  end if;
  v_notification := jsonb_build_object(
    'event', emit_event.event_type,
    'topic', emit_event.flow_slug,
    'timestamp', extract(epoch from clock_timestamp()),
    'payload', v_payload
  )::text;
  perform pg_notify('pgflow_events', v_notification);
  perform pg_notify(emit_event.flow_slug, v_notification);
end;
$$;
