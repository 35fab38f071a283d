-- Setup for the built-in pgmq-compatible queue: schema `pgmq`, the catalogue of queues
-- (`pgmq.meta`) and the three composite types the queue functions return.
--
-- Runs once, at first install, inside a migration, and only when the real pgmq extension
-- is not available. The shapes match pgmq 1.5.x, including the 1.5 additions `headers`
-- (last field of message_record) and `queue_visible_length` (last field of metrics_result),
-- which pgflow checks for.
create schema if not exists pgmq;

-- One row per queue created with pgmq.create*. `queue_name` is stored as given (not lowercased);
-- there is no primary key, only the unique constraint.
create table pgmq.meta (
  queue_name varchar not null,
  is_partitioned boolean not null,
  is_unlogged boolean not null,
  created_at timestamp with time zone not null default now(),
  constraint meta_queue_name_key unique (queue_name)
);

-- A message as read, popped or re-timed; same columns, same order as pgmq.q_<queue>.
create type pgmq.message_record as (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamp with time zone,
  vt timestamp with time zone,
  message jsonb,
  headers jsonb
);

-- A row of pgmq.list_queues().
create type pgmq.queue_record as (
  queue_name varchar,
  is_partitioned boolean,
  is_unlogged boolean,
  created_at timestamp with time zone
);

-- A row of pgmq.metrics() / pgmq.metrics_all().
create type pgmq.metrics_result as (
  queue_name text,
  queue_length bigint,
  newest_msg_age_sec integer,
  oldest_msg_age_sec integer,
  total_messages bigint,
  scrape_time timestamp with time zone,
  queue_visible_length bigint
);

-- Monitoring roles may look at queues, as with the extension.
grant usage on schema pgmq to pg_monitor;
grant select on all tables in schema pgmq to pg_monitor;
grant select on all sequences in schema pgmq to pg_monitor;
alter default privileges in schema pgmq grant select on tables to pg_monitor;
alter default privileges in schema pgmq grant select on sequences to pg_monitor;
