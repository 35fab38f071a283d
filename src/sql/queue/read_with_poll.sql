-- pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms, conditional):
-- pgmq.read, retried every `poll_interval_ms` while nothing is visible, until
-- messages arrive or `max_poll_seconds` have passed, then returns what it got (maybe nothing).
--
-- Invariants: same claiming as pgmq.read (FOR UPDATE SKIP LOCKED, vt pushed forward, read_ct
-- incremented); each attempt runs in a fresh snapshot, so messages committed by other sessions
-- while polling are seen; the deadline is checked before every attempt, so
-- max_poll_seconds <= 0 returns nothing without reading. The arguments are checked once, before the
-- first attempt: vt and qty as in pgmq.read, the queue must exist (42P01), max_poll_seconds must not
-- be NULL and poll_interval_ms must be 0 or more (22004 for NULL, 22023 otherwise), since either
-- would otherwise poll without end or without pause.
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
  stop_at timestamp with time zone;
begin
  perform pgmq._check_read_arguments(vt, qty);
  if max_poll_seconds is null then
    raise exception 'max_poll_seconds must not be NULL' using errcode = '22004';
  end if;
  if poll_interval_ms is null then
    raise exception 'poll_interval_ms must not be NULL' using errcode = '22004';
  end if;
  if poll_interval_ms < 0 then
    raise exception 'poll_interval_ms must be 0 or more, got %', poll_interval_ms using errcode = '22023';
  end if;
  perform pgmq._queue_table(queue_name);
  stop_at := clock_timestamp() + make_interval(secs => max_poll_seconds);
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
