-- pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms, conditional):
-- pgmq.read, retried every `poll_interval_ms` while nothing is visible, until
-- messages arrive or `max_poll_seconds` have passed, then returns what it got (maybe nothing).
--
-- Invariants: same claiming as pgmq.read (FOR UPDATE SKIP LOCKED, vt pushed forward, read_ct
-- incremented); each attempt runs in a fresh snapshot, so messages committed by other sessions
-- while polling are seen; the deadline is checked before every attempt, so
-- max_poll_seconds <= 0 returns nothing without reading.
create or replace function pgmq.read_with_poll(
  queue_name text,
  vt integer,
  qty integer,
  max_poll_seconds integer default 5,
  poll_interval_ms integer default 100,
  conditional jsonb default '{}'::jsonb
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
declare
  stop_at timestamp with time zone := clock_timestamp() + make_interval(secs => max_poll_seconds);
begin
  loop
    if clock_timestamp() >= stop_at then
      return;
    end if;
    return query select * from pgmq.read(queue_name, vt, qty, conditional);
    if found then
      return;
    end if;
    perform pg_sleep(poll_interval_ms::numeric / 1000);
  end loop;
end;
$$;
