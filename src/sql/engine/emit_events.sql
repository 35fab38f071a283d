-- pgflow.emit_events(event_type, flow_slugs, payloads): publishes one engine event per element
-- (flow_slugs[i], payloads[i]) with pg_notify, on channel `pgflow_events` and on the channel named
-- after the event's flow, in array order.
--
-- Each notification is {"event", "topic", "timestamp", "payload"}; the payload carries event_type and
-- flow_slug besides the caller's fields. Payloads never include step outputs and error messages are
-- cut to 1000 characters, so a notification stays well below pg_notify's 8000-byte limit. Listeners
-- receive events in commit order, and in call order within a transaction. The timestamp is the clock
-- when the event is built, before its transaction commits, so it is not an ordering key: an event
-- built earlier can commit (and arrive) later.
create or replace function pgflow.emit_events(event_type text, flow_slugs text[], payloads jsonb[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pg_notify('pgflow_events', e.notification), pg_notify(e.flow_slug, e.notification)
  from (
    select ev.ord, ev.flow_slug,
      jsonb_build_object(
        'event', emit_events.event_type,
        'topic', ev.flow_slug,
        'timestamp', extract(epoch from clock_timestamp()),
        'payload', jsonb_build_object('event_type', emit_events.event_type, 'flow_slug', ev.flow_slug)
          || ev.payload
          || case
               when length(ev.payload ->> 'error_message') > 1000
                 then jsonb_build_object('error_message', left(ev.payload ->> 'error_message', 997) || '...')
               else '{}'::jsonb
             end
      )::text as notification
    from unnest(emit_events.flow_slugs, emit_events.payloads) with ordinality as ev(flow_slug, payload, ord)
  ) e
  order by e.ord;
end;
$$;
