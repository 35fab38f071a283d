-- pgmq.send_batch(queue_name, msgs [, headers] [, delay]): enqueues several messages and
-- returns their msg_ids, one row per message, in the order of `msgs`. Six overloads, as send;
-- the last one does the work.
--
-- Invariants: all messages of a batch share one vt; msg_ids ascend in input order and come back
-- in that order (pgflow matches them to its inputs by position); msgs[i] gets headers[i], and
-- the shorter array is padded with NULLs (NULL headers -> every message has NULL headers).
-- One INSERT per call. An unknown queue fails with 42P01 (see pgmq._queue_table) and a NULL delay
-- with 22004, whatever the overload.
create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  headers jsonb[],
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
    'insert into pgmq.%I (vt, message, headers)
     select $1, batch.message, batch.headers
     from unnest($2, $3) with ordinality as batch(message, headers, position)
     order by batch.position
     returning msg_id',
    pgmq._queue_table(queue_name)
  )
  using delay, msgs, headers;
end;
$$;

create or replace function pgmq.send_batch(queue_name text, msgs jsonb[])
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send_batch($1, $2, null::jsonb[], clock_timestamp());
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  headers jsonb[]
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send_batch($1, $2, $3, clock_timestamp());
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  delay integer
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send_batch($1, $2, null::jsonb[], clock_timestamp() + make_interval(secs => $3));
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  delay timestamp with time zone
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send_batch($1, $2, null::jsonb[], $3);
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  headers jsonb[],
  delay integer
)
returns setof bigint
language sql
set search_path = ''
as $$
  select pgmq.send_batch($1, $2, $3, clock_timestamp() + make_interval(secs => $4));
$$;
