-- pgmq.send(queue_name, msg [, headers] [, delay]): enqueues one message and returns its msg_id.
-- Six overloads: with or without headers, and with no delay, a delay in seconds (integer) or an
-- absolute visibility time (timestamptz, may be in the past). The last one does the work; the
-- others turn their arguments into its (headers NULL, vt = clock_timestamp() [+ delay]).
--
-- Invariants: the message becomes visible at vt; read_ct starts at 0; enqueued_at is the
-- transaction time; the queue table is named after the queue (lower case). An unknown queue fails
-- with 42P01 (see pgmq._queue_table) and a NULL delay with 22004, whatever the overload.
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
  if delay is null then
    raise exception 'delay must not be NULL' using errcode = '22004';
  end if;
  return query execute format(
    'insert into pgmq.%I (vt, message, headers) values ($1, $2, $3) returning msg_id',
    pgmq._queue_table(queue_name)
  )
  using delay, msg, headers;
end;
$$;

create or replace function pgmq.send(queue_name text, msg jsonb)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send($1, $2, null::jsonb, clock_timestamp());
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  headers jsonb
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send($1, $2, $3, clock_timestamp());
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  delay integer
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send($1, $2, null::jsonb, clock_timestamp() + make_interval(secs => $3));
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  delay timestamp with time zone
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send($1, $2, null::jsonb, $3);
$$;

create or replace function pgmq.send(
  queue_name text,
  msg jsonb,
  headers jsonb,
  delay integer
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send($1, $2, $3, clock_timestamp() + make_interval(secs => $4));
$$;
