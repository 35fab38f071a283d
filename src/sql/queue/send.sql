-- pgmq.send(queue_name, msg [, headers] [, delay]): enqueues one message and returns its msg_id.
-- Six overloads: with or without headers, and with no delay, a delay in seconds (integer) or an
-- absolute visibility time (timestamptz, may be in the past).
--
-- Invariants: the message becomes visible at vt = clock_timestamp() (+ delay), or at the given
-- time; read_ct starts at 0; enqueued_at is the transaction time. Each overload runs its own
-- single INSERT (no call into another overload): send is on the engine's hot path.

create or replace function pgmq.send(queue_name text, msg jsonb)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message) values ($1, $2) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp(), msg;
end;
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  headers jsonb
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp(), msg, headers;
end;
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  delay integer
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message) values ($1, $2) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp() + make_interval(secs => delay), msg;
end;
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  delay timestamp with time zone
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message) values ($1, $2) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using delay, msg;
end;
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  headers jsonb,
  delay integer
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp() + make_interval(secs => delay), msg, headers;
end;
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  headers jsonb,
  delay timestamp with time zone
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using delay, msg, headers;
end;
$$;
