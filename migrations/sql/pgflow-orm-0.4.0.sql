-- pgflow-orm 0.4.0: the release as one plain SQL file, for psql or any migrator.
-- Upgrades a database at pgflow-orm 0.3.0 to 0.4.0.
-- Apply the release files in order, each once: psql -v ON_ERROR_STOP=1 -f pgflow-orm-0.4.0.sql
-- Migrations: 0005_pgflow_run_control_schedules, 0006_pgflow_0_4_0_functions.
-- They are recorded in drizzle.__pgflow_migrations as drizzle's migrator records them, so
-- drizzle-kit migrate, migratePgflow() or the Kysely migrator can take over later.
-- Generated from the migrations folder when the release is cut; a released file is never edited.
begin;
set local client_min_messages = warning;

-- Waits for any other pgflow migrator working on this database, then checks the installed version.
do $pgflow_release$
declare
  v_installed text;
begin
  perform pg_advisory_xact_lock(hashtextextended('pgflow-orm:migrations', 0));
  if to_regprocedure('pgflow.version()') is null then
    raise exception 'pgflow-orm-0.4.0.sql upgrades pgflow-orm 0.3.0 to 0.4.0, but this database has no pgflow installed'
      using hint = 'Apply the release files in order, starting with the first release.';
  end if;
  execute 'select pgflow.version()' into v_installed;
  if v_installed is distinct from '0.3.0' then
    raise exception 'pgflow-orm-0.4.0.sql upgrades pgflow-orm 0.3.0 to 0.4.0, but this database has pgflow-orm %', v_installed
      using hint = 'Apply only the release files newer than the installed version, in order.';
  end if;
end;
$pgflow_release$;

create schema if not exists "drizzle";
create table if not exists "drizzle"."__pgflow_migrations" (
  id serial primary key,
  hash text not null,
  created_at bigint
);

-- ------------------------------------------------------------------------------------------------
-- 0005_pgflow_run_control_schedules.sql (sha256 ea663408cc6769ba50845637eaac815aabc4bcfee7ee26be8e31976b5a379e71)
CREATE TABLE "pgflow"."role_access" (
	"role_name" text NOT NULL,
	"access" text NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "role_access_pkey" PRIMARY KEY("role_name","access"),
	CONSTRAINT "access_is_valid" CHECK ("pgflow"."role_access"."access" in ('worker', 'client', 'reader', 'admin'))
);

CREATE TABLE "pgflow"."schedule_ticks" (
	"flow_slug" text NOT NULL,
	"schedule_name" text NOT NULL,
	"tick" timestamp with time zone NOT NULL,
	"run_id" uuid NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedule_ticks_pkey" PRIMARY KEY("flow_slug","schedule_name","tick")
);

CREATE TABLE "pgflow"."schedules" (
	"flow_slug" text NOT NULL,
	"schedule_name" text NOT NULL,
	"cron" text NOT NULL,
	"input" jsonb NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedules_pkey" PRIMARY KEY("flow_slug","schedule_name"),
	CONSTRAINT "schedule_name_is_valid" CHECK ("pgflow"."schedules"."schedule_name" ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length("pgflow"."schedules"."schedule_name") <= 128),
	CONSTRAINT "input_is_json_value" CHECK (jsonb_typeof("pgflow"."schedules"."input") in ('object', 'array'))
);

ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_is_valid";

ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_matches_timestamps";

ALTER TABLE "pgflow"."step_states" DROP CONSTRAINT "status_is_valid";

ALTER TABLE "pgflow"."step_tasks" DROP CONSTRAINT "valid_status";

ALTER TABLE "pgflow"."flows" ADD COLUMN "paused_at" timestamp with time zone;

ALTER TABLE "pgflow"."runs" ADD COLUMN "cancelled_at" timestamp with time zone;

ALTER TABLE "pgflow"."runs" ADD COLUMN "cancel_reason" text;

ALTER TABLE "pgflow"."runs" ADD COLUMN "idempotency_key" text;

ALTER TABLE "pgflow"."step_states" ADD COLUMN "cancelled_at" timestamp with time zone;

ALTER TABLE "pgflow"."step_tasks" ADD COLUMN "cancelled_at" timestamp with time zone;

ALTER TABLE "pgflow"."schedule_ticks" ADD CONSTRAINT "schedule_ticks_schedule_fkey" FOREIGN KEY ("flow_slug","schedule_name") REFERENCES "pgflow"."schedules"("flow_slug","schedule_name") ON DELETE cascade ON UPDATE no action;

ALTER TABLE "pgflow"."schedules" ADD CONSTRAINT "schedules_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "cancelled_at_is_after_started_at" CHECK ("pgflow"."runs"."cancelled_at" is null or "pgflow"."runs"."cancelled_at" >= "pgflow"."runs"."started_at");

ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."runs"."status" in ('started', 'completed', 'failed', 'cancelled'));

ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_matches_timestamps" CHECK (("pgflow"."runs"."status" = 'started' and "pgflow"."runs"."completed_at" is null and "pgflow"."runs"."failed_at" is null and "pgflow"."runs"."cancelled_at" is null)
        or ("pgflow"."runs"."status" = 'completed' and "pgflow"."runs"."completed_at" is not null)
        or ("pgflow"."runs"."status" = 'failed' and "pgflow"."runs"."failed_at" is not null)
        or ("pgflow"."runs"."status" = 'cancelled' and "pgflow"."runs"."cancelled_at" is not null));

ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "cancelled_at_matches_status" CHECK (("pgflow"."step_states"."status" = 'cancelled') = ("pgflow"."step_states"."cancelled_at" is not null));

ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed', 'skipped', 'cancelled'));

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "cancelled_at_matches_status" CHECK (("pgflow"."step_tasks"."status" = 'cancelled') = ("pgflow"."step_tasks"."cancelled_at" is not null));

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "valid_status" CHECK ("pgflow"."step_tasks"."status" in ('queued', 'started', 'completed', 'failed', 'cancelled'));

insert into "drizzle"."__pgflow_migrations" (hash, created_at) values ('ea663408cc6769ba50845637eaac815aabc4bcfee7ee26be8e31976b5a379e71', 1796595792680);

-- ------------------------------------------------------------------------------------------------
-- 0006_pgflow_0_4_0_functions.sql (sha256 82f981a606115ef743c835382ec0651c4dcff6d5ef89b23d7b84986552eb2cdc)
-- pgflow-orm 0.4.0: engine functions.
-- Generated by `npm run db:functions` from src/sql/. A released migration is never edited.
-- The built-in queue's changed functions (left alone when the database uses the pgmq extension).
do $pgflow_queue$
begin
  if exists (select 1 from pg_catalog.pg_extension e where e.extname = 'pgmq') then
    return;
  end if;
  -- src/sql/queue/archive.sql
  execute $pgflow_source$
-- pgmq.archive(queue_name, msg_id | msg_ids): moves messages from pgmq.q_<name> to
-- pgmq.a_<name>. Single form: true if the message existed, false if not. Array form: the ids
-- actually archived (missing ids are left out, no error).
--
-- Invariants: the move is one statement (DELETE ... RETURNING feeding INSERT), so a message is
-- never in both tables or in neither; msg_id, read_ct, enqueued_at, vt, message and headers are
-- kept; archived_at is the transaction time. An unknown queue fails with 42P01 (see
-- pgmq._queue_table).
create or replace function pgmq.archive(queue_name text, msg_id bigint)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  archived bigint;
begin
  execute format(
    'with moved as (
       delete from pgmq.%I
       where msg_id = $1
       returning msg_id, read_ct, enqueued_at, vt, message, headers
     )
     insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
     select msg_id, read_ct, enqueued_at, vt, message, headers from moved
     returning msg_id',
    pgmq._queue_table(queue_name),
    pgmq.format_table_name(queue_name, 'a')
  )
  into archived
  using msg_id;
  return archived is not null;
end;
$$;

create or replace function pgmq.archive(queue_name text, msg_ids bigint[])
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'with moved as (
       delete from pgmq.%I
       where msg_id = any($1)
       returning msg_id, read_ct, enqueued_at, vt, message, headers
     )
     insert into pgmq.%I (msg_id, read_ct, enqueued_at, vt, message, headers)
     select msg_id, read_ct, enqueued_at, vt, message, headers from moved
     returning msg_id',
    pgmq._queue_table(queue_name),
    pgmq.format_table_name(queue_name, 'a')
  )
  using msg_ids;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/delete.sql
  execute $pgflow_source$
-- pgmq.delete(queue_name, msg_id | msg_ids): removes messages from the queue for good.
-- Single form: true if the message existed, false if not. Array form: the ids actually deleted
-- (missing ids are left out, no error).
--
-- Invariants: only the queue table is touched (nothing is archived); a missing id is never an
-- error; an unknown queue is one: 42P01 (see pgmq._queue_table). One DELETE per call.
create or replace function pgmq.delete(queue_name text, msg_id bigint)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  deleted bigint;
begin
  execute format(
    'delete from pgmq.%I where msg_id = $1 returning msg_id',
    pgmq._queue_table(queue_name)
  )
  into deleted
  using msg_id;
  return deleted is not null;
end;
$$;

create or replace function pgmq.delete(queue_name text, msg_ids bigint[])
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'delete from pgmq.%I where msg_id = any($1) returning msg_id',
    pgmq._queue_table(queue_name)
  )
  using msg_ids;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/metrics.sql
  execute $pgflow_source$
-- pgmq.metrics(queue_name): one queue's statistics: messages in the queue (all and visible
-- now), age in seconds of the newest and oldest message (NULL when empty), total messages ever
-- sent (the highest msg_id handed out) and the scrape time.
--
-- Invariants: read-only, one query over the queue table and its identity sequence
-- pgmq.q_<name>_msg_id_seq; every time is the transaction time now(); queue_name is echoed as
-- given. An unknown queue fails with 42P01 (see pgmq._queue_table).
create or replace function pgmq.metrics(queue_name text)
returns pgmq.metrics_result
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq._queue_table(queue_name);
  result pgmq.metrics_result;
begin
  execute format(
    'select
       $1::text,
       stats.queue_length,
       stats.newest_msg_age_sec,
       stats.oldest_msg_age_sec,
       ids.total_messages,
       now(),
       stats.queue_visible_length
     from (
       select
         count(*) as queue_length,
         count(*) filter (where q.vt <= now()) as queue_visible_length,
         extract(epoch from now() - max(q.enqueued_at))::integer as newest_msg_age_sec,
         extract(epoch from now() - min(q.enqueued_at))::integer as oldest_msg_age_sec
       from pgmq.%I as q
     ) as stats
     cross join (
       select case when s.is_called then s.last_value else 0 end as total_messages
       from pgmq.%I as s
     ) as ids',
    queue_table,
    queue_table || '_msg_id_seq'
  )
  into result
  using queue_name;
  return result;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/pop.sql
  execute $pgflow_source$
-- pgmq.pop(queue_name): takes the oldest visible message off the queue for good: deletes it and
-- returns it (0 or 1 row).
--
-- Invariants: the row is claimed with FOR UPDATE SKIP LOCKED, so two concurrent pops never get
-- the same message; read_ct is not incremented and nothing is archived. An unknown queue fails
-- with 42P01 (see pgmq._queue_table).
create or replace function pgmq.pop(queue_name text)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'with claimed as (
       select q.msg_id
       from pgmq.%1$I as q
       where q.vt <= clock_timestamp()
       order by q.msg_id
       limit 1
       for update skip locked
     )
     delete from pgmq.%1$I as q
     using claimed
     where q.msg_id = claimed.msg_id
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq._queue_table(queue_name)
  );
end;
$$;
$pgflow_source$;
  -- src/sql/queue/purge_queue.sql
  execute $pgflow_source$
-- pgmq.purge_queue(queue_name): removes every message from the queue (TRUNCATE) and returns how
-- many there were.
--
-- Invariants: the count is taken under the same ACCESS EXCLUSIVE lock as the TRUNCATE, so it
-- is exactly the number of messages removed; the archive is untouched; the identity is not
-- restarted, so msg_ids keep growing (and metrics' total_messages with them). An unknown queue
-- fails with 42P01 (see pgmq._queue_table).
create or replace function pgmq.purge_queue(queue_name text)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq._queue_table(queue_name);
  purged bigint;
begin
  execute format('lock table pgmq.%I in access exclusive mode', queue_table);
  execute format('select count(*) from pgmq.%I', queue_table) into purged;
  execute format('truncate table pgmq.%I', queue_table);
  return purged;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/queue_table.sql
  execute $pgflow_source$
-- pgmq._queue_table(queue_name): the name of an existing queue's message table (`q_<name>`, lower
-- case), for the functions that work on one queue; a clear error when there is no such queue.
--
-- Invariants: every per-queue function (send, send_batch, read, read_with_poll, pop, set_vt, delete,
-- archive, metrics, purge_queue) calls this before it builds any SQL, so an unknown queue always
-- fails with `queue "<name>" does not exist` and SQLSTATE 42P01 (undefined_table, the code the pgmq
-- extension's raw error has) rather than a message about a table the caller never named; a NULL
-- name fails with 22004. The check is one catalog lookup (to_regclass), no subtransaction, so the
-- hot path (pgmq.read) stays cheap. Names with forbidden characters are refused by
-- pgmq.format_table_name first.
create or replace function pgmq._queue_table(queue_name text)
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_table text;
begin
  if queue_name is null then
    raise exception 'queue name must not be NULL' using errcode = '22004';
  end if;
  v_table := pgmq.format_table_name(queue_name, 'q');
  if to_regclass(format('pgmq.%I', v_table)) is null then
    raise exception 'queue "%" does not exist', queue_name
      using errcode = '42P01',
            hint = format('Create it with pgmq.create(%L); pgmq.list_queues() lists the queues that exist.', queue_name);
  end if;
  return v_table;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/read_with_poll.sql
  execute $pgflow_source$
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
  if vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  if vt < 0 then
    raise exception 'vt must be 0 or more seconds, got %', vt
      using errcode = '22023',
            hint = 'vt is how long the messages read stay hidden from other readers; 0 leaves them visible.';
  end if;
  if qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if qty < 0 then
    raise exception 'qty must be 0 or more, got %', qty using errcode = '22023';
  end if;
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
$pgflow_source$;
  -- src/sql/queue/read.sql
  execute $pgflow_source$
-- pgmq.read(queue_name, vt, qty, conditional): hands out up to `qty` visible messages, oldest
-- first, and hides them for `vt` seconds. A non-empty `conditional` only hands out messages whose
-- body contains it (jsonb @>); '{}' or NULL means no filter.
--
-- Invariants: rows are claimed with FOR UPDATE SKIP LOCKED, so concurrent readers never receive
-- the same visible message; each delivery sets vt = clock_timestamp() + vt seconds and
-- increments read_ct; the returned rows carry the new vt and read_ct, ordered by msg_id.
-- Refused before anything is read (SQLSTATE 22023, 22004 for NULL): a negative or NULL vt (the
-- pgmq extension would hand the messages out already visible again, or fail on the NOT NULL vt
-- column), a negative or NULL qty (NULL would mean no limit); an unknown queue fails with 42P01
-- (see pgmq._queue_table). qty 0 reads nothing, as in pgmq.
create or replace function pgmq.read(
  queue_name text,
  vt integer,
  qty integer,
  conditional jsonb default '{}'::jsonb
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
declare
  queue_table text;
begin
  if vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  if vt < 0 then
    raise exception 'vt must be 0 or more seconds, got %', vt
      using errcode = '22023',
            hint = 'vt is how long the messages read stay hidden from other readers; 0 leaves them visible.';
  end if;
  if qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if qty < 0 then
    raise exception 'qty must be 0 or more, got %', qty using errcode = '22023';
  end if;
  queue_table := pgmq._queue_table(queue_name);
  return query execute format(
    'with claimed as (
       select q.msg_id
       from pgmq.%1$I as q
       where q.vt <= clock_timestamp()
         and ($3 is null or $3 = ''{}''::jsonb or q.message @> $3)
       order by q.msg_id
       limit $1
       for update skip locked
     ),
     delivered as (
       update pgmq.%1$I as q
       set vt = clock_timestamp() + make_interval(secs => $2),
         read_ct = q.read_ct + 1
       from claimed
       where q.msg_id = claimed.msg_id
       returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
     )
     select * from delivered order by msg_id',
    queue_table
  )
  using qty, vt, conditional;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/set_vt.sql
  execute $pgflow_source$
-- pgmq.set_vt(queue_name, msg_id, vt): makes a message visible again `vt` seconds from now
-- (0 or a negative value: at once) and returns it; no row when the id does not exist.
--
-- Invariants: vt = clock_timestamp() + vt seconds, whether or not the message is currently
-- visible; read_ct is unchanged. An unknown queue fails with 42P01 (see pgmq._queue_table), a NULL
-- vt with 22004.
create or replace function pgmq.set_vt(
  queue_name text,
  msg_id bigint,
  vt integer
)
returns setof pgmq.message_record
language plpgsql
set search_path = ''
as $$
begin
  if vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  return query execute format(
    'update pgmq.%I as q
     set vt = clock_timestamp() + make_interval(secs => $2)
     where q.msg_id = $1
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq._queue_table(queue_name)
  )
  using msg_id, vt;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/send_batch.sql
  execute $pgflow_source$
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
$pgflow_source$;
  -- src/sql/queue/send.sql
  execute $pgflow_source$
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
$pgflow_source$;
end;
$pgflow_queue$;

drop function if exists pgflow.start_flow(text,jsonb,uuid);

drop function if exists pgflow.start_flow_with_states(text,jsonb,uuid);

-- src/sql/engine/apply_queue_access.sql
-- pgflow.apply_queue_access(role_name, access, granted, queue_name): grants (or revokes) what one
-- access level needs on one flow's queue: a worker reads messages (SELECT and UPDATE on the queue
-- table, as pgmq.read needs); a reader or admin sees the queue, its archive and its message id
-- sequence (SELECT, for queue metrics); a client needs nothing (start_flow sends as pgflow's owner).
-- pgflow.create_flow calls it for every recorded access level when it creates a flow's queue.
--
-- Invariants: only tables that exist are touched (a flow whose queue is gone is skipped); table
-- names come from pgmq.format_table_name and are quoted with %I; never DELETE or INSERT.
create or replace function pgflow.apply_queue_access(role_name name, access text, granted boolean, queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_verb text := case when apply_queue_access.granted then 'grant' else 'revoke' end;
  v_to text := case when apply_queue_access.granted then 'to' else 'from' end;
  v_queue regclass := pg_catalog.to_regclass(format('pgmq.%I', pgmq.format_table_name(apply_queue_access.queue_name, 'q')));
  v_archive regclass := pg_catalog.to_regclass(format('pgmq.%I', pgmq.format_table_name(apply_queue_access.queue_name, 'a')));
  v_sequence text;
begin
  if v_queue is null or apply_queue_access.access = 'client' then
    return;
  end if;
  if apply_queue_access.access = 'worker' then
    execute format('%s select, update on table %s %s %I', v_verb, v_queue, v_to, apply_queue_access.role_name);
    return;
  end if;
  execute format('%s select on table %s %s %I', v_verb, v_queue, v_to, apply_queue_access.role_name);
  if v_archive is not null then
    execute format('%s select on table %s %s %I', v_verb, v_archive, v_to, apply_queue_access.role_name);
  end if;
  v_sequence := pg_catalog.pg_get_serial_sequence(v_queue::text, 'msg_id');
  if v_sequence is not null then
    execute format('%s select on sequence %s %s %I', v_verb, v_sequence, v_to, apply_queue_access.role_name);
  end if;
end;
$$;

-- src/sql/engine/apply_role_access.sql
-- pgflow.apply_role_access(role_name, access, granted): grants (or revokes) the privileges of one
-- access level to an existing role — functions, schema usage and table reads — without recording
-- anything; pgflow.set_role_access records the level and calls this. The levels:
--   worker  the worker protocol (start_tasks, claim_tasks, complete_task(s), fail_task, the worker
--           helpers, set_vt_batch, poll_for_tasks, fire_schedule), reading the flows' definitions
--           and schedules, registering and beating in pgflow.workers by plain SQL (insert, and update
--           of last_heartbeat_at and stopped_at), and reading (SELECT, UPDATE: what pgmq.read needs)
--           the flows' queues;
--   client  start_flow (every form), start_flow_with_states, get_run_with_states, and reading runs,
--           step states and tasks;
--   reader  SELECT on every pgflow table and on the flows' queues and pgmq.meta (queue metrics);
--   admin   definitions (create_flow, add_step), run control (cancel_run, retry_run, pause_flow,
--           resume_flow), schedules and pruning, with everything client and reader have.
-- No level writes a table directly: the functions that change tables run with their owner's rights
-- (security definer).
--
-- Invariants: every identifier is quoted (format %I, regprocedure); the queue grants are those of
-- pgflow.apply_queue_access, flow by flow.
create or replace function pgflow.apply_role_access(role_name name, access text, granted boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_verb text := case when apply_role_access.granted then 'grant' else 'revoke' end;
  v_to text := case when apply_role_access.granted then 'to' else 'from' end;
  v_read text[] := array['version', 'is_valid_slug', 'calculate_retry_delay', 'cron_problem', 'get_run_with_states', 'step_input', 'step_output',
    'step_condition_met', 'idempotent_run_id'];
  v_worker text[] := array['start_tasks', 'claim_tasks', 'complete_task', 'complete_tasks', 'fail_task', 'register_worker', 'heartbeat_worker',
    'stop_worker', 'set_vt_batch', 'poll_for_tasks', 'fire_schedule', 'version', 'is_valid_slug', 'calculate_retry_delay'];
  v_client text[] := array['start_flow', 'start_flow_with_states'];
  v_admin text[] := array['create_flow', 'add_step', 'cancel_run', 'retry_run', 'pause_flow', 'resume_flow', 'schedule_flow', 'unschedule_flow',
    'fire_schedule', 'prune_batch', 'prune'];
  v_all_tables text[] := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks', 'workers', 'schedules', 'schedule_ticks', 'role_access'];
  v_functions text[];
  v_tables text[];
  v_routine regprocedure;
  v_table text;
  v_flow text;
begin
  case apply_role_access.access
    when 'worker' then
      v_functions := v_worker;
      v_tables := array['flows', 'steps', 'deps', 'schedules'];
    when 'client' then
      v_functions := v_client || v_read;
      v_tables := array['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks'];
    when 'reader' then
      v_functions := v_read;
      v_tables := v_all_tables;
    when 'admin' then
      v_functions := v_admin || v_client || v_read;
      v_tables := v_all_tables;
    else
      raise exception 'unknown access level %: expected worker, client, reader or admin', coalesce(quote_literal(apply_role_access.access), 'NULL')
        using errcode = '22023';
  end case;

  execute format('%s usage on schema pgflow %s %I', v_verb, v_to, apply_role_access.role_name);
  for v_routine in
    select p.oid::regprocedure
    from pg_catalog.pg_proc p
    where p.pronamespace = 'pgflow'::regnamespace and p.proname = any(v_functions)
  loop
    execute format('%s execute on routine %s %s %I', v_verb, v_routine, v_to, apply_role_access.role_name);
  end loop;
  foreach v_table in array v_tables loop
    execute format('%s select on table pgflow.%I %s %I', v_verb, v_table, v_to, apply_role_access.role_name);
  end loop;
  if apply_role_access.access = 'worker' then
    -- Workers that register and beat by plain SQL, as pgflow 0.8.1's reference shows.
    execute format('%s select, insert (worker_id, queue_name, function_name, started_at, last_heartbeat_at), update (last_heartbeat_at, stopped_at) '
      'on table pgflow.workers %s %I', v_verb, v_to, apply_role_access.role_name);
  end if;

  if apply_role_access.access <> 'client' then
    execute format('%s usage on schema pgmq %s %I', v_verb, v_to, apply_role_access.role_name);
    if apply_role_access.access <> 'worker' and pg_catalog.has_table_privilege('pgmq.meta', 'select with grant option') then
      execute format('%s select on table pgmq.meta %s %I', v_verb, v_to, apply_role_access.role_name);
    end if;
    for v_flow in select f.flow_slug from pgflow.flows f order by f.flow_slug loop
      perform pgflow.apply_queue_access(apply_role_access.role_name, apply_role_access.access, apply_role_access.granted, v_flow);
    end loop;
  end if;
end;
$$;

-- src/sql/engine/cancel_run.sql
-- pgflow.cancel_run(run_id, reason): stops a started run for good. Returns the run, now `cancelled`
-- (cancelled_at, cancel_reason), or no row — with a notice saying so — when the run had already
-- finished (completed, failed or cancelled), in which case nothing changes.
--
-- Its queued and started tasks and its unfinished step states become `cancelled` and the tasks'
-- messages leave the queue, so nothing of the run starts again; a worker still running one of its
-- tasks gets no row back from complete_task / fail_task, as for a failed run. Event: run:cancelled.
-- Invariants: the run's row is locked first, so a cancel and a completion of the same run do not
-- interleave: whichever commits first wins and the other sees its result. An unknown run is an error.
create or replace function pgflow.cancel_run(run_id uuid, reason text default null)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_messages bigint[];
begin
  select r.* into v_run from pgflow.runs r where r.run_id = cancel_run.run_id for update;
  if not found then
    raise exception 'run % does not exist', cancel_run.run_id using errcode = '42704';
  end if;
  if v_run.status <> 'started' then
    raise notice 'run % is already %; nothing to cancel', cancel_run.run_id, v_run.status;
    return;
  end if;

  update pgflow.runs r
  set status = 'cancelled', cancelled_at = clock_timestamp(), cancel_reason = cancel_run.reason
  where r.run_id = cancel_run.run_id
  returning r.* into v_run;

  with cancelled as (
    update pgflow.step_tasks t
    set status = 'cancelled', cancelled_at = clock_timestamp()
    where t.run_id = cancel_run.run_id and t.status in ('queued', 'started')
    returning t.message_id
  )
  select array_agg(cancelled.message_id) filter (where cancelled.message_id is not null) into v_messages from cancelled;
  if v_messages is not null then
    perform pgmq.archive(v_run.flow_slug, v_messages);
  end if;

  update pgflow.step_states s
  set status = 'cancelled', cancelled_at = clock_timestamp()
  where s.run_id = cancel_run.run_id and s.status in ('created', 'started');

  perform pgflow.emit_event(
    'run:cancelled',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'cancelled', 'cancelled_at', v_run.cancelled_at)
      || case when cancel_run.reason is null then '{}'::jsonb else jsonb_build_object('reason', left(cancel_run.reason, 1000)) end
  );
  return next v_run;
end;
$$;

-- src/sql/engine/claim_tasks.sql
-- pgflow.claim_tasks(flow_slug, worker_id, qty): reads up to `qty` visible messages from the flow's
-- queue and starts their tasks in the same transaction — pgmq.read followed by pgflow.start_tasks
-- in one round trip and one commit. Returns the started tasks with their input, as start_tasks does,
-- plus the attempt each start counts (attempts_count), so a worker needs no second query.
--
-- The read hides each message for its step's timeout + 2 s at once, so no second visibility update
-- is needed (computed in bigint: a timeout at the integer maximum does not overflow). Invariants:
-- messages are claimed oldest first with FOR UPDATE SKIP LOCKED, so concurrent callers never receive
-- the same message; read_ct counts every delivery; otherwise those of pgflow.start_tasks. A message
-- whose task cannot start stays hidden for that time. A paused flow (pgflow.pause_flow) claims
-- nothing. A qty below 1 (22023), or NULL for qty or worker_id (22004), is refused before anything is
-- read: NULL qty would claim every visible message.
create or replace function pgflow.claim_tasks(
  flow_slug text,
  worker_id uuid,
  qty integer default 10
)
returns setof pgflow.claimed_task
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_timeout integer;
  v_paused boolean;
  v_msg_ids bigint[];
begin
  if claim_tasks.qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if claim_tasks.qty < 1 then
    raise exception 'qty must be 1 or more, got %', claim_tasks.qty using errcode = '22023';
  end if;
  if claim_tasks.worker_id is null then
    raise exception 'worker_id must not be NULL'
      using errcode = '22004',
            hint = 'Pass the worker''s id: any UUID, registered on first use (or with pgflow.register_worker).';
  end if;

  select f.opt_timeout, f.paused_at is not null into v_timeout, v_paused from pgflow.flows f where f.flow_slug = claim_tasks.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', claim_tasks.flow_slug using errcode = '42704';
  end if;
  -- A paused flow starts nothing: its messages are not even read, so they stay visible.
  if v_paused then
    return;
  end if;

  execute format(
    $sql$
      with claimed as (
        select q.msg_id, coalesce(step.opt_timeout, $2)::bigint + 2 as hide_seconds
        from pgmq.%1$I as q
        left join pgflow.steps step on step.flow_slug = $3 and step.step_slug = q.message ->> 'step_slug'
        where q.vt <= clock_timestamp()
        order by q.msg_id
        limit $1
        for update of q skip locked
      ),
      delivered as (
        update pgmq.%1$I as q
        set vt = clock_timestamp() + make_interval(secs => claimed.hide_seconds),
            read_ct = q.read_ct + 1
        from claimed
        where q.msg_id = claimed.msg_id
        returning q.msg_id
      )
      select array_agg(delivered.msg_id order by delivered.msg_id) from delivered
    $sql$,
    pgmq.format_table_name(claim_tasks.flow_slug, 'q')
  )
  into v_msg_ids
  using claim_tasks.qty, v_timeout, claim_tasks.flow_slug;

  if v_msg_ids is null then
    return;
  end if;
  return query select * from pgflow.start_tasks_from_messages(claim_tasks.flow_slug, v_msg_ids, claim_tasks.worker_id, false);
end;
$$;

-- src/sql/engine/complete_task.sql
-- pgflow.complete_task(run_id, step_slug, task_index, output): completes one started task with its
-- output (any JSON value, or NULL) and moves the run forward; returns the completed task.
--
-- The output is stored and the task's message archived. When the step has no task left it completes
-- (step:completed), counts off its run's remaining steps and its dependents' remaining dependencies;
-- dependents left with none start at once (see pgflow.advance_runs for maps and conditions); a run
-- with no step left completes (run:completed).
-- Invariants: the run's row is locked first, so a task is completed at most once and concurrent calls
-- cannot deadlock; a task that is not `started`, or whose run is not `started`, is left alone and no
-- row is returned; a task that does not exist is an error. One row at a time, with primary-key
-- lookups only: this is the path pgflow's own workers call for every task. pgflow.complete_tasks is
-- its batched twin.
create or replace function pgflow.complete_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  output jsonb
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow text;
  v_task pgflow.step_tasks;
  v_step_completed boolean;
  v_remaining_steps integer;
  v_ready text[];
  v_settle boolean;
begin
  select r.flow_slug into v_flow
  from pgflow.runs r
  where r.run_id = complete_task.run_id and r.status = 'started'
  for update;

  if found then
    update pgflow.step_tasks t
    set status = 'completed', completed_at = clock_timestamp(), output = complete_task.output
    where t.run_id = complete_task.run_id
      and t.step_slug = complete_task.step_slug
      and t.task_index = complete_task.task_index
      and t.status = 'started'
    returning t.* into v_task;
  end if;

  if v_task.run_id is null then
    if not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = complete_task.run_id and t.step_slug = complete_task.step_slug and t.task_index = complete_task.task_index
    ) then
      raise exception 'task % of step "%" in run % does not exist', complete_task.task_index, complete_task.step_slug, complete_task.run_id
        using errcode = '42704';
    end if;
    return;
  end if;

  if v_task.message_id is not null then
    perform pgmq.archive(v_flow, v_task.message_id);
  end if;

  update pgflow.step_states s
  set remaining_tasks = s.remaining_tasks - 1,
      status = case when s.remaining_tasks = 1 then 'completed' else s.status end,
      completed_at = case when s.remaining_tasks = 1 then clock_timestamp() else s.completed_at end
  where s.run_id = complete_task.run_id and s.step_slug = complete_task.step_slug
  returning s.status = 'completed' into v_step_completed;

  if v_step_completed then
    perform pgflow.emit_event(
      'step:completed',
      v_flow,
      jsonb_build_object('run_id', complete_task.run_id, 'step_slug', complete_task.step_slug, 'status', 'completed',
        'completed_at', clock_timestamp())
    );

    update pgflow.runs r
    set remaining_steps = r.remaining_steps - 1
    where r.run_id = complete_task.run_id
    returning r.remaining_steps into v_remaining_steps;

    -- Dependents wait for one dependency less. Those left with none start now when they are single
    -- steps without a condition; the others (maps, conditions) are settled by pgflow.advance_runs.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - 1,
          status = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then 'started' else s.status end,
          started_at = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then clock_timestamp() else s.started_at end,
          remaining_tasks = case when s.remaining_deps = 1 and s.status = 'created' and plain.starts then s.initial_tasks else s.remaining_tasks end
      from pgflow.deps d
      join pgflow.steps step on step.flow_slug = d.flow_slug and step.step_slug = d.step_slug
      cross join lateral (
        select step.step_type = 'single' and step.required_input_pattern is null and step.forbidden_input_pattern is null as starts
      ) plain
      where d.flow_slug = v_flow
        and d.dep_slug = complete_task.step_slug
        and s.run_id = complete_task.run_id
        and s.step_slug = d.step_slug
      returning s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.step_slug) filter (where waiting.status = 'started'),
      coalesce(bool_or(waiting.status = 'created'), false)
    into v_ready, v_settle
    from waiting
    where waiting.remaining_deps = 0;

    if v_ready is not null then
      perform pgflow.queue_step_tasks(
        array_fill(v_flow, array[cardinality(v_ready)]),
        array_fill(complete_task.run_id, array[cardinality(v_ready)]),
        v_ready
      );
    end if;
    if v_settle then
      perform pgflow.advance_runs(array[complete_task.run_id]);
    elsif v_remaining_steps = 0 then
      perform pgflow.complete_runs(array[complete_task.run_id]);
    end if;
  end if;

  return next v_task;
end;
$$;

-- src/sql/engine/complete_tasks.sql
-- pgflow.complete_tasks(run_ids, step_slugs, task_indexes, outputs): the batched twin of
-- pgflow.complete_task. Completes many tasks in one call (element i of each array describes one task)
-- and moves their runs forward, as completing them one by one in that order would; returns the
-- completed tasks.
--
-- For each completed task: the output is stored and its message archived; a step whose tasks are all
-- done (one for a single step, one per element for a map) completes (step:completed), counts off its
-- run's remaining steps and its dependents' remaining dependencies; dependents left with none start
-- at once (see pgflow.advance_runs for maps and conditions); runs with no step left complete.
-- Invariants: run rows are locked first, in run_id order, so concurrent calls cannot deadlock and a
-- task is completed at most once: only `started` tasks of `started` runs change; others are skipped
-- and not returned. A task that does not exist is an error, and nothing of the call is kept.
-- Timestamps come from clock_timestamp(), so they never precede those of transactions that committed
-- while this one ran (a worker restarting a task, say).
create or replace function pgflow.complete_tasks(
  run_ids uuid[],
  step_slugs text[],
  task_indexes integer[],
  outputs jsonb[]
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_done pgflow.step_tasks[];
  v_missing record;
  v_archive record;
  v_step_runs uuid[];
  v_step_slugs text[];
  v_step_flows text[];
  v_ready_flows text[];
  v_ready_runs uuid[];
  v_ready_slugs text[];
  v_finished_runs uuid[];
  v_settle_runs uuid[];
begin
  if cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.step_slugs)
    or cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.task_indexes)
    or cardinality(complete_tasks.run_ids) is distinct from cardinality(complete_tasks.outputs) then
    raise exception 'complete_tasks needs arrays of equal length (run_ids %, step_slugs %, task_indexes %, outputs %)',
      cardinality(complete_tasks.run_ids), cardinality(complete_tasks.step_slugs),
      cardinality(complete_tasks.task_indexes), cardinality(complete_tasks.outputs)
      using errcode = '22023';
  end if;
  if coalesce(cardinality(complete_tasks.run_ids), 0) = 0 then
    return;
  end if;

  perform 1 from pgflow.runs r where r.run_id = any(complete_tasks.run_ids) order by r.run_id for update;

  with done as (
    update pgflow.step_tasks t
    set status = 'completed', completed_at = clock_timestamp(), output = i.output
    from unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes, complete_tasks.outputs)
        with ordinality as i(run_id, step_slug, task_index, output, ord)
    where t.run_id = i.run_id
      and t.step_slug = i.step_slug
      and t.task_index = i.task_index
      and t.status = 'started'
      -- scalar subqueries keep every lookup on a primary key, whatever the table statistics say
      and (select r.status from pgflow.runs r where r.run_id = t.run_id) = 'started'
    returning t, i.ord
  )
  -- in the order the caller listed the tasks, so events follow that order
  select array_agg(done.t order by done.ord) into v_done from done;

  if coalesce(cardinality(v_done), 0) < cardinality(complete_tasks.run_ids) then
    select i.run_id, i.step_slug, i.task_index into v_missing
    from unnest(complete_tasks.run_ids, complete_tasks.step_slugs, complete_tasks.task_indexes) as i(run_id, step_slug, task_index)
    where not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = i.run_id and t.step_slug = i.step_slug and t.task_index = i.task_index
    )
    limit 1;
    if found then
      raise exception 'task % of step "%" in run % does not exist', v_missing.task_index, v_missing.step_slug, v_missing.run_id
        using errcode = '42704';
    end if;
  end if;
  if v_done is null then
    return;
  end if;

  for v_archive in
    select d.flow_slug, array_agg(d.message_id) as message_ids
    from unnest(v_done) as d
    where d.message_id is not null
    group by d.flow_slug
  loop
    perform pgmq.archive(v_archive.flow_slug, v_archive.message_ids);
  end loop;

  with finished as (
    update pgflow.step_states s
    set remaining_tasks = s.remaining_tasks - c.n,
        status = case when s.remaining_tasks - c.n = 0 then 'completed' else s.status end,
        completed_at = case when s.remaining_tasks - c.n = 0 then clock_timestamp() else s.completed_at end
    from (
      select d.run_id, d.step_slug, count(*)::integer as n, min(d.ordinality) as ord
      from unnest(v_done) with ordinality as d
      group by d.run_id, d.step_slug
    ) c
    where s.run_id = c.run_id and s.step_slug = c.step_slug
    returning s.run_id, s.step_slug, s.flow_slug, s.status, c.ord
  )
  select array_agg(finished.run_id order by finished.ord), array_agg(finished.step_slug order by finished.ord),
    array_agg(finished.flow_slug order by finished.ord)
  into v_step_runs, v_step_slugs, v_step_flows
  from finished
  where finished.status = 'completed';

  if v_step_runs is not null then
    perform pgflow.emit_events(
      'step:completed',
      v_step_flows,
      array(
        select jsonb_build_object('run_id', c.run_id, 'step_slug', c.step_slug, 'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_step_runs, v_step_slugs) with ordinality as c(run_id, step_slug, ord)
        order by c.ord
      )
    );

    with counted as (
      update pgflow.runs r
      set remaining_steps = r.remaining_steps - c.n
      from (select c.run_id, count(*)::integer as n from unnest(v_step_runs) as c(run_id) group by c.run_id) c
      where r.run_id = c.run_id
      returning r.run_id, r.remaining_steps
    )
    select array_agg(counted.run_id) into v_finished_runs from counted where counted.remaining_steps = 0;

    -- Dependents wait for one dependency less. Those left with none start now when they are single
    -- steps without a condition; the others (maps, conditions) are settled by pgflow.advance_runs.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - c.n,
          status = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then 'started' else s.status end,
          started_at = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then clock_timestamp() else s.started_at end,
          remaining_tasks = case when s.remaining_deps = c.n and s.status = 'created' and c.plain then s.initial_tasks else s.remaining_tasks end
      from (
        select c.run_id, d.step_slug, count(*)::integer as n,
          bool_and(step.step_type = 'single' and step.required_input_pattern is null and step.forbidden_input_pattern is null) as plain
        from unnest(v_step_runs, v_step_slugs, v_step_flows) as c(run_id, step_slug, flow_slug)
        join pgflow.deps d on d.flow_slug = c.flow_slug and d.dep_slug = c.step_slug
        join pgflow.steps step on step.flow_slug = d.flow_slug and step.step_slug = d.step_slug
        group by c.run_id, d.step_slug
      ) c
      where s.run_id = c.run_id and s.step_slug = c.step_slug
      returning s.flow_slug, s.run_id, s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.flow_slug) filter (where waiting.status = 'started'),
      array_agg(waiting.run_id) filter (where waiting.status = 'started'),
      array_agg(waiting.step_slug) filter (where waiting.status = 'started'),
      array_agg(distinct waiting.run_id) filter (where waiting.status = 'created')
    into v_ready_flows, v_ready_runs, v_ready_slugs, v_settle_runs
    from waiting
    where waiting.remaining_deps = 0;

    if v_ready_runs is not null then
      perform pgflow.queue_step_tasks(v_ready_flows, v_ready_runs, v_ready_slugs);
    end if;
    if v_settle_runs is not null then
      perform pgflow.advance_runs(v_settle_runs);
    end if;
    if v_finished_runs is not null then
      perform pgflow.complete_runs(v_finished_runs);
    end if;
  end if;

  return query select * from unnest(v_done);
end;
$$;

-- src/sql/engine/create_flow.sql
-- pgflow.create_flow(flow_slug, max_attempts, base_delay, timeout): creates a flow, or updates the
-- options of an existing one, and makes sure its queue exists.
--
-- Options not passed keep their stored value (3 / 5 / 60 for a new flow); calling it again with the
-- same options changes nothing. max_attempts counts every attempt, the first included: 0 is accepted,
-- as by pgflow 0.8.1 (whose tables allow it), and means the same as 1 — one attempt, never retried. The flow's queue is named after the flow, so the slug obeys the queue
-- name limit (47 characters), and two slugs that differ only in letter case are refused because queue
-- tables are named in lower case.
create or replace function pgflow.create_flow(
  flow_slug text,
  max_attempts integer default null,
  base_delay integer default null,
  timeout integer default null
)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
  v_clash text;
begin
  if not pgflow.is_valid_slug(create_flow.flow_slug) then
    raise exception 'invalid flow slug %', coalesce(quote_literal(create_flow.flow_slug), 'NULL')
      using errcode = '22023',
            hint = 'A slug starts with a letter or underscore, has only letters, digits and underscores, and is not "run".';
  end if;
  if length(create_flow.flow_slug) > 47 then
    raise exception 'flow slug "%" is % characters long; flow slugs are limited to 47 characters because they name the flow''s queue',
      create_flow.flow_slug, length(create_flow.flow_slug)
      using errcode = '22023';
  end if;
  if create_flow.max_attempts < 0 then
    raise exception 'max_attempts must be 0 or more (got %) for flow "%"', create_flow.max_attempts, create_flow.flow_slug
      using errcode = '22023';
  end if;
  if create_flow.base_delay < 0 then
    raise exception 'base_delay must be 0 or more (got %) for flow "%"', create_flow.base_delay, create_flow.flow_slug
      using errcode = '22023';
  end if;
  if create_flow.timeout <= 0 then
    raise exception 'timeout must be greater than 0 (got %) for flow "%"', create_flow.timeout, create_flow.flow_slug
      using errcode = '22023';
  end if;

  select f.flow_slug into v_clash
  from pgflow.flows f
  where lower(f.flow_slug) = lower(create_flow.flow_slug)
    and f.flow_slug <> create_flow.flow_slug
  limit 1;
  if found then
    raise exception 'flow slug "%" clashes with existing flow "%": flow queues are named in lower case', create_flow.flow_slug, v_clash
      using errcode = '23505';
  end if;

  insert into pgflow.flows as f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
  values (
    create_flow.flow_slug,
    coalesce(create_flow.max_attempts, 3),
    coalesce(create_flow.base_delay, 5),
    coalesce(create_flow.timeout, 60)
  )
  on conflict on constraint flows_pkey do update
  set opt_max_attempts = coalesce(create_flow.max_attempts, f.opt_max_attempts),
      opt_base_delay = coalesce(create_flow.base_delay, f.opt_base_delay),
      opt_timeout = coalesce(create_flow.timeout, f.opt_timeout)
  where (f.opt_max_attempts, f.opt_base_delay, f.opt_timeout) is distinct from (
    coalesce(create_flow.max_attempts, f.opt_max_attempts),
    coalesce(create_flow.base_delay, f.opt_base_delay),
    coalesce(create_flow.timeout, f.opt_timeout)
  )
  returning f.* into v_flow;

  if v_flow.flow_slug is null then
    select f.* into v_flow from pgflow.flows f where f.flow_slug = create_flow.flow_slug;
  end if;

  if not exists (select 1 from pgmq.meta m where m.queue_name = create_flow.flow_slug) then
    perform pgmq.create(create_flow.flow_slug);
    perform pgflow.apply_queue_access(a.role_name, a.access, true, create_flow.flow_slug)
    from pgflow.role_access a
    join pg_catalog.pg_roles r on r.rolname = a.role_name;
  end if;

  return v_flow;
end;
$$;

-- src/sql/engine/cron_problem.sql
-- pgflow.cron_problem(cron): what is wrong with a cron expression, or NULL when it is valid: five
-- fields separated by spaces — minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
-- JAN-DEC), day of week (0-7, 0 and 7 are Sunday, or SUN-SAT) — each a comma-separated list of `*`,
-- a value or a range `a-b`, any of them with a step `/n`. pgflow.schedule_flow refuses an expression
-- with a problem; the schedulers that fire ticks read the same language.
create or replace function pgflow.cron_problem(cron text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_fields text[] := regexp_split_to_array(btrim(coalesce(cron_problem.cron, '')), '\s+');
  v_names text[] := array['minute', 'hour', 'day of month', 'month', 'day of week'];
  v_min integer[] := array[0, 0, 1, 1, 0];
  v_max integer[] := array[59, 23, 31, 12, 7];
  v_field text;
  v_item text;
  v_match text[];
  v_low integer;
  v_high integer;
  v_index integer;
begin
  if cron_problem.cron is null or btrim(cron_problem.cron) = '' then
    return 'the cron expression is empty';
  end if;
  if cardinality(v_fields) <> 5 then
    return format('a cron expression has 5 fields (minute hour day-of-month month day-of-week), %s has %s', quote_literal(cron_problem.cron), cardinality(v_fields));
  end if;
  for v_index in 1 .. 5 loop
    v_field := upper(v_fields[v_index]);
    if v_index = 4 then
      v_field := regexp_replace(v_field, 'JAN', '1', 'g');
      v_field := regexp_replace(v_field, 'FEB', '2', 'g');
      v_field := regexp_replace(v_field, 'MAR', '3', 'g');
      v_field := regexp_replace(v_field, 'APR', '4', 'g');
      v_field := regexp_replace(v_field, 'MAY', '5', 'g');
      v_field := regexp_replace(v_field, 'JUN', '6', 'g');
      v_field := regexp_replace(v_field, 'JUL', '7', 'g');
      v_field := regexp_replace(v_field, 'AUG', '8', 'g');
      v_field := regexp_replace(v_field, 'SEP', '9', 'g');
      v_field := regexp_replace(v_field, 'OCT', '10', 'g');
      v_field := regexp_replace(v_field, 'NOV', '11', 'g');
      v_field := regexp_replace(v_field, 'DEC', '12', 'g');
    elsif v_index = 5 then
      v_field := regexp_replace(v_field, 'SUN', '0', 'g');
      v_field := regexp_replace(v_field, 'MON', '1', 'g');
      v_field := regexp_replace(v_field, 'TUE', '2', 'g');
      v_field := regexp_replace(v_field, 'WED', '3', 'g');
      v_field := regexp_replace(v_field, 'THU', '4', 'g');
      v_field := regexp_replace(v_field, 'FRI', '5', 'g');
      v_field := regexp_replace(v_field, 'SAT', '6', 'g');
    end if;
    foreach v_item in array string_to_array(v_field, ',') loop
      v_match := regexp_match(v_item, '^(\*|(\d+)(-(\d+))?)(/(\d+))?$');
      if v_match is null then
        return format('the %s field %s of %s is not a value, a range a-b or *, with an optional /step', v_names[v_index], quote_literal(v_fields[v_index]), quote_literal(cron_problem.cron));
      end if;
      if length(v_item) > 20 or coalesce(length(v_match[2]), 0) > 4 or coalesce(length(v_match[4]), 0) > 4 or coalesce(length(v_match[6]), 0) > 4 then
        return format('the %s field %s of %s is out of range (%s-%s)', v_names[v_index], quote_literal(v_fields[v_index]), quote_literal(cron_problem.cron), v_min[v_index], v_max[v_index]);
      end if;
      if v_match[2] is not null then
        v_low := v_match[2]::integer;
        v_high := coalesce(v_match[4]::integer, v_low);
        if v_low < v_min[v_index] or v_high > v_max[v_index] or v_low > v_high then
          return format('the %s field %s of %s is out of range (%s-%s)', v_names[v_index], quote_literal(v_fields[v_index]), quote_literal(cron_problem.cron), v_min[v_index], v_max[v_index]);
        end if;
      end if;
      if v_match[6] is not null and v_match[6]::integer = 0 then
        return format('the %s field %s of %s has a step of 0', v_names[v_index], quote_literal(v_fields[v_index]), quote_literal(cron_problem.cron));
      end if;
    end loop;
  end loop;
  return null;
end;
$$;

-- src/sql/engine/fail_task.sql
-- pgflow.fail_task(run_id, step_slug, task_index, error_message): records a failed attempt of a
-- started task; returns the task.
--
-- With attempts left the task returns to `queued` and its message becomes visible again after
-- calculate_retry_delay(base_delay, attempts_count - 1) seconds (base_delay, then doubling). The last
-- allowed attempt fails the task, and then the whole run or, when the step's when_exhausted says so,
-- only the step, which is skipped (see pgflow.handle_exhausted_task). Per-step options override the
-- flow's; max_attempts 0 counts as 1 (the attempt that failed was the only one). A map step's tasks
-- fail and retry one by one. Invariants: the run's row is locked first; a task that is not `started`, or
-- whose run has failed, is left alone and no row is returned; a task that does not exist is an error.
create or replace function pgflow.fail_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  error_message text
)
returns setof pgflow.step_tasks
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_max_attempts integer;
  v_base_delay integer;
  v_task pgflow.step_tasks;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = fail_task.run_id for update;
  if not found then
    raise exception 'run % does not exist', fail_task.run_id using errcode = '42704';
  end if;

  select greatest(coalesce(s.opt_max_attempts, f.opt_max_attempts), 1), coalesce(s.opt_base_delay, f.opt_base_delay)
  into v_max_attempts, v_base_delay
  from pgflow.steps s
  join pgflow.flows f on f.flow_slug = s.flow_slug
  where s.flow_slug = v_run.flow_slug and s.step_slug = fail_task.step_slug;
  if not found then
    raise exception 'step "%" does not exist in flow "%"', fail_task.step_slug, v_run.flow_slug using errcode = '42704';
  end if;

  if v_run.status <> 'started' then
    return;
  end if;

  update pgflow.step_tasks t
  set status = case when t.attempts_count < v_max_attempts then 'queued' else 'failed' end,
      started_at = case when t.attempts_count < v_max_attempts then null else t.started_at end,
      failed_at = case when t.attempts_count < v_max_attempts then null else clock_timestamp() end,
      error_message = fail_task.error_message
  where t.run_id = fail_task.run_id
    and t.step_slug = fail_task.step_slug
    and t.task_index = fail_task.task_index
    and t.status = 'started'
  returning t.* into v_task;

  if not found then
    if not exists (
      select 1 from pgflow.step_tasks t
      where t.run_id = fail_task.run_id and t.step_slug = fail_task.step_slug and t.task_index = fail_task.task_index
    ) then
      raise exception 'task % of step "%" in run % does not exist', fail_task.task_index, fail_task.step_slug, fail_task.run_id
        using errcode = '42704';
    end if;
    return;
  end if;

  if v_task.status = 'queued' then
    perform pgmq.set_vt(v_task.flow_slug, v_task.message_id, pgflow.calculate_retry_delay(v_base_delay, v_task.attempts_count - 1));
  else
    perform pgflow.handle_exhausted_task(v_task.run_id, v_task.step_slug, v_task.error_message);
  end if;

  return next v_task;
end;
$$;

-- src/sql/engine/fire_schedule.sql
-- pgflow.fire_schedule(flow_slug, schedule_name, tick): starts the schedule's run for one tick (the
-- moment its cron expression names) and returns the run id — or NULL when that tick has already
-- fired, by this caller or any other, in which case nothing happens.
--
-- Invariants: each (schedule, tick) fires once, however many processes call this at once: the tick
-- is recorded in pgflow.schedule_ticks under its primary key, and the run is started idempotently
-- (key `schedule:<name>:<tick in UTC>`) in the same transaction. The caller decides which ticks are
-- due; from pg_cron: `select pgflow.fire_schedule('flow', 'name', date_trunc('minute', now()))`.
-- An unknown schedule is an error.
create or replace function pgflow.fire_schedule(flow_slug text, schedule_name text, tick timestamptz)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_schedule pgflow.schedules;
  v_key text;
  v_run_id uuid;
begin
  select s.* into v_schedule
  from pgflow.schedules s
  where s.flow_slug = fire_schedule.flow_slug and s.schedule_name = fire_schedule.schedule_name;
  if not found then
    raise exception 'schedule "%" of flow "%" does not exist', fire_schedule.schedule_name, fire_schedule.flow_slug using errcode = '42704';
  end if;
  if fire_schedule.tick is null then
    raise exception 'fire_schedule needs the tick to fire' using errcode = '22004';
  end if;

  v_key := format('schedule:%s:%s', fire_schedule.schedule_name, to_char(fire_schedule.tick at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
  insert into pgflow.schedule_ticks (flow_slug, schedule_name, tick, run_id)
  values (fire_schedule.flow_slug, fire_schedule.schedule_name, fire_schedule.tick, pgflow.idempotent_run_id(fire_schedule.flow_slug, v_key))
  on conflict on constraint schedule_ticks_pkey do nothing
  returning schedule_ticks.run_id into v_run_id;
  if not found then
    return null;
  end if;
  perform pgflow.start_flow(fire_schedule.flow_slug, v_schedule.input, idempotency_key => v_key);
  return v_run_id;
end;
$$;

-- src/sql/engine/heartbeat_worker.sql
-- pgflow.heartbeat_worker(worker_id): records that the worker is alive (last_heartbeat_at).
-- Unknown workers are an error, so a worker whose row was removed learns it must register again.
create or replace function pgflow.heartbeat_worker(worker_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update pgflow.workers w
  set last_heartbeat_at = clock_timestamp()
  where w.worker_id = heartbeat_worker.worker_id;
  if not found then
    raise exception 'worker % is not registered', heartbeat_worker.worker_id
      using errcode = '42704', hint = 'Call pgflow.register_worker() first.';
  end if;
end;
$$;

-- src/sql/engine/pause_flow.sql
-- pgflow.pause_flow(flow_slug): pauses a flow: until pgflow.resume_flow, workers start none of its
-- tasks (claim_tasks reads nothing, so its messages stay queued and visible; start_tasks starts
-- nothing, so messages a worker has already read stay hidden for the time that read gave them).
-- Tasks already running finish normally, and start_flow still accepts runs. Returns the flow; pausing
-- a paused flow changes nothing. Event: flow:paused. An unknown flow is an error.
create or replace function pgflow.pause_flow(flow_slug text)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
begin
  update pgflow.flows f
  set paused_at = coalesce(f.paused_at, clock_timestamp())
  where f.flow_slug = pause_flow.flow_slug
  returning f.* into v_flow;
  if not found then
    raise exception 'flow "%" does not exist', pause_flow.flow_slug using errcode = '42704';
  end if;
  perform pgflow.emit_event('flow:paused', v_flow.flow_slug, jsonb_build_object('status', 'paused', 'paused_at', v_flow.paused_at));
  return v_flow;
end;
$$;

-- src/sql/engine/poll_for_tasks.sql
-- pgflow.poll_for_tasks(queue_name, vt, qty, max_poll_seconds, poll_interval_ms): deprecated; reads
-- messages with pgmq.read_with_poll and starts their tasks (no worker is recorded). Kept so that older
-- workers keep working; new workers use pgmq.read with pgflow.start_tasks, or pgflow.claim_tasks.
--
-- Invariants: only the queue of one of pgflow's flows is read (it runs with its owner's rights). The
-- arguments are checked here, before anything is read, so the engine behaves the same on the pgmq
-- extension as on the built-in queue: vt and poll_interval_ms must be 0 or more, qty 1 or more
-- (22023), and none of them, nor max_poll_seconds, may be NULL (22004) — a NULL would otherwise read
-- without limit, poll without end or fail on the queue table.
create or replace function pgflow.poll_for_tasks(
  queue_name text,
  vt integer,
  qty integer,
  max_poll_seconds integer default 5,
  poll_interval_ms integer default 100
)
returns setof pgflow.step_task_record
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_msg_ids bigint[];
begin
  if poll_for_tasks.vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.vt < 0 then
    raise exception 'vt must be 0 or more seconds, got %', poll_for_tasks.vt using errcode = '22023';
  end if;
  if poll_for_tasks.qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.qty < 1 then
    raise exception 'qty must be 1 or more, got %', poll_for_tasks.qty using errcode = '22023';
  end if;
  if poll_for_tasks.max_poll_seconds is null then
    raise exception 'max_poll_seconds must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.poll_interval_ms is null then
    raise exception 'poll_interval_ms must not be NULL' using errcode = '22004';
  end if;
  if poll_for_tasks.poll_interval_ms < 0 then
    raise exception 'poll_interval_ms must be 0 or more, got %', poll_for_tasks.poll_interval_ms using errcode = '22023';
  end if;
  -- It runs with its owner's rights: only the queues of pgflow's flows may be read.
  if not exists (select 1 from pgflow.flows f where f.flow_slug = poll_for_tasks.queue_name) then
    raise exception 'flow "%" does not exist', poll_for_tasks.queue_name using errcode = '42704';
  end if;
  v_msg_ids := array(
    select m.msg_id
    from pgmq.read_with_poll(
      poll_for_tasks.queue_name,
      poll_for_tasks.vt,
      poll_for_tasks.qty,
      poll_for_tasks.max_poll_seconds,
      poll_for_tasks.poll_interval_ms
    ) m
  );
  -- No worker is recorded: start_tasks itself requires one.
  return query
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages(poll_for_tasks.queue_name, v_msg_ids, null, true) as started;
end;
$$;

-- src/sql/engine/prune_batch.sql
-- pgflow.prune_batch(older_than, batch_size): deletes up to `batch_size` finished runs (completed,
-- failed or cancelled) that finished more than `older_than` ago, oldest first, with their step
-- states, tasks, archived queue messages and schedule ticks. Returns what it deleted; a batch with
-- pruned_runs = 0 means nothing is left. pgflow.prune runs batches until then.
--
-- Invariants: only finished runs are touched, and their rows are taken with SKIP LOCKED, so a worker
-- or another prune is never waited on and work in progress is never affected; each call is one short
-- transaction of at most `batch_size` runs. Run ids are time-ordered, so the oldest runs are found at
-- the start of the primary key. A negative interval or a batch size below 1 is an error.
create or replace function pgflow.prune_batch(older_than interval, batch_size integer default 10000)
returns table (pruned_runs bigint, pruned_step_states bigint, pruned_step_tasks bigint, pruned_messages bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_runs uuid[];
  v_archive record;
  v_messages bigint := 0;
  v_count bigint;
begin
  if prune_batch.older_than is null or prune_batch.older_than < interval '0' then
    raise exception 'older_than must be an interval of 0 or more, got %', coalesce(prune_batch.older_than::text, 'NULL') using errcode = '22023';
  end if;
  if prune_batch.batch_size is null or prune_batch.batch_size < 1 then
    raise exception 'batch_size must be 1 or more, got %', coalesce(prune_batch.batch_size::text, 'NULL') using errcode = '22023';
  end if;

  v_runs := array(
    select r.run_id
    from pgflow.runs r
    where r.status in ('completed', 'failed', 'cancelled')
      and coalesce(r.completed_at, r.failed_at, r.cancelled_at) < clock_timestamp() - prune_batch.older_than
    order by r.run_id
    limit prune_batch.batch_size
    for update skip locked
  );
  if cardinality(v_runs) = 0 then
    return query select 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    return;
  end if;

  -- Archived messages are found by their ids (the archive's primary key), one queue at a time.
  for v_archive in
    select t.flow_slug, array_agg(t.message_id) as message_ids
    from pgflow.step_tasks t
    where t.run_id = any(v_runs) and t.message_id is not null
    group by t.flow_slug
  loop
    if to_regclass(format('pgmq.%I', pgmq.format_table_name(v_archive.flow_slug, 'a'))) is not null then
      execute format('delete from pgmq.%I where msg_id = any($1)', pgmq.format_table_name(v_archive.flow_slug, 'a'))
      using v_archive.message_ids;
      get diagnostics v_count = row_count;
      v_messages := v_messages + v_count;
    end if;
  end loop;

  delete from pgflow.schedule_ticks st where st.run_id = any(v_runs);
  delete from pgflow.step_tasks t where t.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_step_tasks := v_count;
  delete from pgflow.step_states s where s.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_step_states := v_count;
  delete from pgflow.runs r where r.run_id = any(v_runs);
  get diagnostics v_count = row_count;
  pruned_runs := v_count;
  pruned_messages := v_messages;
  return next;
end;
$$;

-- src/sql/engine/prune.sql
-- pgflow.prune(older_than, batch_size): deletes every finished run that finished more than
-- `older_than` ago, with its step states, tasks, archived queue messages and schedule ticks, in
-- batches of `batch_size` runs (see pgflow.prune_batch), committing after each, so no lock is held
-- longer than one batch. Returns the totals. A procedure: `call pgflow.prune('30 days')`, outside a
-- transaction block (inside one, call pgflow.prune_batch in a loop instead). Each batch reports its
-- counts as a notice.
--
-- Unlike the functions, it has no `set search_path` clause: PostgreSQL refuses COMMIT in a procedure
-- that has one. Every name in it is schema-qualified, so the caller's search_path does not matter.
create or replace procedure pgflow.prune(
  older_than interval,
  batch_size integer default 10000,
  inout pruned_runs bigint default 0,
  inout pruned_step_states bigint default 0,
  inout pruned_step_tasks bigint default 0,
  inout pruned_messages bigint default 0
)
language plpgsql
as $$
declare
  v_batch record;
begin
  pruned_runs := 0;
  pruned_step_states := 0;
  pruned_step_tasks := 0;
  pruned_messages := 0;
  loop
    select * into v_batch from pgflow.prune_batch(prune.older_than, prune.batch_size);
    exit when v_batch.pruned_runs = 0;
    pruned_runs := pruned_runs + v_batch.pruned_runs;
    pruned_step_states := pruned_step_states + v_batch.pruned_step_states;
    pruned_step_tasks := pruned_step_tasks + v_batch.pruned_step_tasks;
    pruned_messages := pruned_messages + v_batch.pruned_messages;
    raise notice 'pruned % runs (% so far)', v_batch.pruned_runs, pruned_runs;
    commit;
  end loop;
end;
$$;

-- src/sql/engine/refresh_grants.sql
-- pgflow.refresh_grants(): applies again every access level recorded in pgflow.role_access, so the
-- functions and tables a release adds reach the roles granted before it. Each release's functions
-- migration calls it. A recorded role that no longer exists is skipped; a role that can use schema
-- pgflow without any recorded level (set up by hand, or before access levels existed) is named in
-- a notice, since EXECUTE on pgflow's functions is no longer PUBLIC.
create or replace function pgflow.refresh_grants()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_holder record;
  v_unrecorded text;
begin
  for v_holder in
    select a.role_name, a.access
    from pgflow.role_access a
    join pg_catalog.pg_roles r on r.rolname = a.role_name
    order by a.role_name, a.access
  loop
    perform pgflow.apply_role_access(v_holder.role_name, v_holder.access, true);
  end loop;

  select string_agg(quote_ident(r.rolname), ', ' order by r.rolname) into v_unrecorded
  from pg_catalog.pg_namespace n
  cross join lateral pg_catalog.aclexplode(n.nspacl) grant_row
  join pg_catalog.pg_roles r on r.oid = grant_row.grantee
  where n.nspname = 'pgflow'
    and grant_row.privilege_type = 'USAGE'
    and grant_row.grantee <> n.nspowner
    and not exists (select 1 from pgflow.role_access a where a.role_name = r.rolname);
  if v_unrecorded is not null then
    raise notice 'roles % can use schema pgflow but hold no pgflow access level, and EXECUTE on pgflow''s functions is not granted to PUBLIC',
      v_unrecorded
      using hint = 'Give each the level it needs: select pgflow.grant_worker(''name''), grant_client, grant_reader or grant_admin.';
  end if;
end;
$$;

-- src/sql/engine/resume_flow.sql
-- pgflow.resume_flow(flow_slug): ends a pause (see pgflow.pause_flow): workers start the flow's
-- tasks again. Returns the flow; resuming a flow that is not paused changes nothing.
-- Event: flow:resumed. An unknown flow is an error.
create or replace function pgflow.resume_flow(flow_slug text)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
begin
  update pgflow.flows f
  set paused_at = null
  where f.flow_slug = resume_flow.flow_slug
  returning f.* into v_flow;
  if not found then
    raise exception 'flow "%" does not exist', resume_flow.flow_slug using errcode = '42704';
  end if;
  perform pgflow.emit_event('flow:resumed', v_flow.flow_slug, jsonb_build_object('status', 'resumed'));
  return v_flow;
end;
$$;

-- src/sql/engine/retry_run.sql
-- pgflow.retry_run(run_id): starts a failed or cancelled run again from where it stopped. Returns the
-- run, `started` again, or no row — with a notice saying so — when the run is not failed or cancelled
-- (a concurrent retry got there first, say), in which case nothing changes.
--
-- Completed and skipped steps keep their state and outputs and do not run again. Every other step
-- (failed, cancelled, or never started) waits again for its unfinished dependencies; its tasks start
-- afresh (attempts from 0; a map re-runs all its elements; the old task rows are replaced) as soon as
-- those dependencies are done. remaining_steps counts the steps to run again. Event: run:retried
-- (with retried_steps), then the events of the steps that start.
-- Invariants: the run's row is locked first, so of two concurrent retries exactly one retries the run;
-- an unknown run is an error.
create or replace function pgflow.retry_run(run_id uuid)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_again text[];
  v_messages bigint[];
  v_input_size integer;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = retry_run.run_id for update;
  if not found then
    raise exception 'run % does not exist', retry_run.run_id using errcode = '42704';
  end if;
  if v_run.status not in ('failed', 'cancelled') then
    raise notice 'run % is %; only a failed or cancelled run can be retried', retry_run.run_id, v_run.status;
    return;
  end if;

  v_again := array(
    select s.step_slug from pgflow.step_states s
    where s.run_id = retry_run.run_id and s.status not in ('completed', 'skipped')
  );

  if jsonb_typeof(v_run.input) = 'array' then
    v_input_size := jsonb_array_length(v_run.input);
  end if;

  -- Their tasks are replaced; a message still in the queue goes to the archive with them.
  with removed as (
    delete from pgflow.step_tasks t
    where t.run_id = retry_run.run_id and t.step_slug = any(v_again)
    returning t.message_id
  )
  select array_agg(removed.message_id) filter (where removed.message_id is not null) into v_messages from removed;
  if v_messages is not null then
    perform pgmq.archive(v_run.flow_slug, v_messages);
  end if;

  update pgflow.step_states s
  set status = 'created', started_at = null, failed_at = null, cancelled_at = null, error_message = null,
      remaining_tasks = null,
      initial_tasks = case
        when step.step_type = 'single' then 1
        when step.deps_count = 0 then v_input_size
      end
  from pgflow.steps step
  where s.run_id = retry_run.run_id
    and s.step_slug = any(v_again)
    and step.flow_slug = s.flow_slug
    and step.step_slug = s.step_slug;

  update pgflow.step_states s
  set remaining_deps = (
    select count(*)
    from pgflow.deps d
    join pgflow.step_states dep_state on dep_state.run_id = s.run_id and dep_state.step_slug = d.dep_slug
    where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug and dep_state.status not in ('completed', 'skipped')
  )
  where s.run_id = retry_run.run_id and s.step_slug = any(v_again);

  update pgflow.runs r
  set status = 'started', failed_at = null, cancelled_at = null, cancel_reason = null, remaining_steps = cardinality(v_again)
  where r.run_id = retry_run.run_id;

  perform pgflow.emit_event(
    'run:retried',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'retried_steps', cardinality(v_again), 'retried_at', clock_timestamp())
  );
  perform pgflow.advance_runs(array[retry_run.run_id]);

  return query select r.* from pgflow.runs r where r.run_id = retry_run.run_id;
end;
$$;

-- src/sql/engine/schedule_flow.sql
-- pgflow.schedule_flow(flow_slug, schedule_name, cron, input, timezone): starts the flow with `input`
-- on a cron schedule (see pgflow.cron_problem for the language), read in `timezone` (an IANA name).
-- Creates the schedule, or replaces the cron expression, input and time zone of an existing one of
-- that name; returns it. Ticks are fired by pgflow.fire_schedule (Node workers started with
-- `schedules: true`, `pgflow-orm scheduler`, or pg_cron).
--
-- Invariants: the expression, the time zone and the input (a JSON object, or an array for a flow with
-- a root map step) are checked first, and a bad one is an error that names it; an unknown flow is an
-- error.
create or replace function pgflow.schedule_flow(
  flow_slug text,
  schedule_name text,
  cron text,
  input jsonb default '{}'::jsonb,
  timezone text default 'UTC'
)
returns pgflow.schedules
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_problem text;
  v_input_type text;
  v_schedule pgflow.schedules;
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = schedule_flow.flow_slug) then
    raise exception 'flow "%" does not exist', schedule_flow.flow_slug using errcode = '42704';
  end if;
  if not pgflow.is_valid_slug(schedule_flow.schedule_name) then
    raise exception 'invalid schedule name %: it takes 1 to 128 letters, digits and underscores, starting with a letter or underscore',
      coalesce(quote_literal(schedule_flow.schedule_name), 'NULL')
      using errcode = '22023';
  end if;
  v_problem := pgflow.cron_problem(schedule_flow.cron);
  if v_problem is not null then
    raise exception 'invalid schedule "%": %', schedule_flow.schedule_name, v_problem using errcode = '22023';
  end if;
  if schedule_flow.timezone is null or not exists (select 1 from pg_catalog.pg_timezone_names tz where tz.name = schedule_flow.timezone) then
    raise exception 'invalid schedule "%": unknown time zone %', schedule_flow.schedule_name, coalesce(quote_literal(schedule_flow.timezone), 'NULL')
      using errcode = '22023', hint = 'Use an IANA name such as UTC or Europe/Paris.';
  end if;
  v_input_type := case
    when exists (select 1 from pgflow.steps s where s.flow_slug = schedule_flow.flow_slug and s.step_type = 'map' and s.deps_count = 0)
      then 'array'
    else 'object'
  end;
  if jsonb_typeof(schedule_flow.input) is distinct from v_input_type then
    raise exception 'invalid schedule "%": the input of a run of flow "%" must be a JSON %, got %', schedule_flow.schedule_name,
      schedule_flow.flow_slug, v_input_type, coalesce(jsonb_typeof(schedule_flow.input), 'NULL')
      using errcode = '22023';
  end if;

  insert into pgflow.schedules (flow_slug, schedule_name, cron, input, timezone)
  values (schedule_flow.flow_slug, schedule_flow.schedule_name, btrim(schedule_flow.cron), schedule_flow.input, schedule_flow.timezone)
  on conflict on constraint schedules_pkey do update
    set cron = excluded.cron, input = excluded.input, timezone = excluded.timezone, updated_at = clock_timestamp()
  returning * into v_schedule;
  return v_schedule;
end;
$$;

-- src/sql/engine/set_role_access.sql
-- pgflow.set_role_access(role_name, access, granted): gives an existing role one access level to
-- pgflow, or takes it back — the work of pgflow.grant_worker / grant_client / grant_reader /
-- grant_admin and their revoke_* twins. The level is recorded in pgflow.role_access and its
-- privileges applied (pgflow.apply_role_access). Taking a level back revokes its privileges, then
-- applies again the levels the role still holds, so what those need stays granted.
--
-- Invariants: only an existing role is accepted (roles are cluster-wide: creating them is the DBA's);
-- pgflow.role_access lists exactly the levels granted and not revoked since; callable only by roles
-- pgflow's owner allows (EXECUTE is not PUBLIC), and granting needs the rights of the objects' owner.
create or replace function pgflow.set_role_access(role_name name, access text, granted boolean)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_other text;
begin
  if set_role_access.role_name is null
    or not exists (select 1 from pg_catalog.pg_roles r where r.rolname = set_role_access.role_name) then
    raise exception 'role % does not exist', coalesce(quote_ident(set_role_access.role_name), 'NULL')
      using errcode = '42704', hint = 'Roles are cluster-wide: create it first (CREATE ROLE ... LOGIN), then grant it access to pgflow.';
  end if;
  if set_role_access.access is null or set_role_access.access not in ('worker', 'client', 'reader', 'admin') then
    raise exception 'unknown access level %: expected worker, client, reader or admin', coalesce(quote_literal(set_role_access.access), 'NULL')
      using errcode = '22023';
  end if;
  if set_role_access.role_name = (select n.nspowner::regrole::name from pg_catalog.pg_namespace n where n.nspname = 'pgflow') then
    raise exception 'role % owns pgflow: it has every right already and cannot be given an access level', quote_ident(set_role_access.role_name)
      using errcode = '22023', hint = 'Grant access levels to the roles your workers, services and dashboards connect as.';
  end if;

  if set_role_access.granted then
    insert into pgflow.role_access (role_name, access)
    values (set_role_access.role_name, set_role_access.access)
    on conflict on constraint role_access_pkey do nothing;
    perform pgflow.apply_role_access(set_role_access.role_name, set_role_access.access, true);
    return;
  end if;

  delete from pgflow.role_access a where a.role_name = set_role_access.role_name and a.access = set_role_access.access;
  perform pgflow.apply_role_access(set_role_access.role_name, set_role_access.access, false);
  for v_other in
    select a.access from pgflow.role_access a where a.role_name = set_role_access.role_name order by a.access
  loop
    perform pgflow.apply_role_access(set_role_access.role_name, v_other, true);
  end loop;
end;
$$;

-- src/sql/engine/set_vt_batch.sql
-- pgflow.set_vt_batch(queue_name, msg_ids, vt_offsets): makes each message msg_ids[i] of the queue
-- invisible for vt_offsets[i] more seconds, in one statement; returns the updated messages.
--
-- Invariants: works on the queue table layout shared by the pgmq extension and the built-in queue;
-- read_ct is untouched; arrays of different lengths are an error; only a flow's queue is accepted,
-- since the function runs with its owner's rights (security definer). A NULL offset is refused (22004,
-- naming its position) before any message moves; a negative offset makes the message visible at once,
-- as pgmq.set_vt does.
create or replace function pgflow.set_vt_batch(
  queue_name text,
  msg_ids bigint[],
  vt_offsets integer[]
)
returns table (
  msg_id bigint,
  read_ct integer,
  enqueued_at timestamp with time zone,
  vt timestamp with time zone,
  message jsonb,
  headers jsonb
)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_null_at integer;
begin
  -- It runs with its owner's rights (so a worker role needs no rights on the queue tables): only the
  -- queues of pgflow's flows may be touched.
  if not exists (select 1 from pgflow.flows f where f.flow_slug = set_vt_batch.queue_name) then
    raise exception 'queue "%" is not the queue of a pgflow flow', set_vt_batch.queue_name using errcode = '42704';
  end if;
  if set_vt_batch.msg_ids is null or set_vt_batch.vt_offsets is null or cardinality(set_vt_batch.msg_ids) = 0 then
    return;
  end if;
  if cardinality(set_vt_batch.msg_ids) <> cardinality(set_vt_batch.vt_offsets) then
    raise exception 'msg_ids length (%) must equal vt_offsets length (%)',
      cardinality(set_vt_batch.msg_ids), cardinality(set_vt_batch.vt_offsets)
      using errcode = '22023';
  end if;
  v_null_at := array_position(set_vt_batch.vt_offsets, null);
  if v_null_at is not null then
    raise exception 'vt_offsets[%] is NULL (for msg_id %)', v_null_at, set_vt_batch.msg_ids[v_null_at]
      using errcode = '22004';
  end if;
  return query execute format(
    $sql$
      update pgmq.%I as q
      set vt = clock_timestamp() + make_interval(secs => o.vt_offset)
      from unnest($1, $2) as o(msg_id, vt_offset)
      where q.msg_id = o.msg_id
      returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers
    $sql$,
    pgmq.format_table_name(set_vt_batch.queue_name, 'q')
  ) using set_vt_batch.msg_ids, set_vt_batch.vt_offsets;
end;
$$;

-- src/sql/engine/start_flow_with_states.sql
-- pgflow.start_flow_with_states(flow_slug, input, run_id, idempotency_key): starts a run like
-- pgflow.start_flow (idempotently, given a key) and returns it as pgflow.get_run_with_states does:
-- {"run": {...}, "steps": [...]}.
--
-- The state is read in a statement of its own, after the run is created, so it sees the new rows.
create or replace function pgflow.start_flow_with_states(
  flow_slug text,
  input jsonb,
  run_id uuid default null,
  idempotency_key text default null
)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run_id uuid;
begin
  select started.run_id into v_run_id
  from pgflow.start_flow(
    start_flow_with_states.flow_slug,
    start_flow_with_states.input,
    start_flow_with_states.run_id,
    start_flow_with_states.idempotency_key
  ) as started;
  return pgflow.get_run_with_states(v_run_id);
end;
$$;

-- src/sql/engine/start_flow.sql
-- pgflow.start_flow(flow_slug, input, run_id, idempotency_key): starts a run of the flow with `input`
-- and returns the run. `run_id` lets the caller choose the run's id. The input is a JSON object, or a
-- JSON array when the flow has a root map step (one that maps over the run input).
--
-- With an `idempotency_key`, a second start of the same flow with the same key returns the run the
-- first one created (whatever its state or input) and creates nothing, also when the two race: the
-- run id is derived from the pair (pgflow.idempotent_run_id), so the runs' primary key decides.
--
-- Creates the run (remaining_steps = the flow's step count) and a state per step waiting for its
-- dependencies; a root map knows its size from the input, a map over a dependency learns it later.
-- Root steps start at once and their tasks are queued; a root step with a condition is checked first,
-- and a root map over an empty array completes at once (see pgflow.advance_runs). A flow without steps,
-- or whose steps all finish without a task, completes immediately. Events: run:started (then the
-- events of those steps, and run:completed).
-- Invariants: everything happens in one transaction, so a failed start leaves nothing behind.
create or replace function pgflow.start_flow(
  flow_slug text,
  input jsonb,
  run_id uuid default null,
  idempotency_key text default null
)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_run_id uuid := start_flow.run_id;
  v_root_map text;
  v_input_size integer;
  v_waiting boolean;
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = start_flow.flow_slug) then
    raise exception 'flow "%" does not exist', start_flow.flow_slug
      using errcode = '42704', hint = 'Create it with pgflow.create_flow() and pgflow.add_step().';
  end if;
  if start_flow.idempotency_key is not null then
    if start_flow.run_id is not null then
      raise exception 'start_flow takes a run_id or an idempotency_key, not both' using errcode = '22023';
    end if;
    v_run_id := pgflow.idempotent_run_id(start_flow.flow_slug, start_flow.idempotency_key);
    return query select r.* from pgflow.runs r where r.run_id = v_run_id;
    if found then
      return;
    end if;
  end if;
  select s.step_slug into v_root_map
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug and s.step_type = 'map' and s.deps_count = 0
  order by s.step_index
  limit 1;
  if v_root_map is not null then
    if start_flow.input is null or jsonb_typeof(start_flow.input) <> 'array' then
      raise exception 'flow "%" maps its input in step "%", so the input of a run must be a JSON array, got %',
        start_flow.flow_slug, v_root_map, coalesce(jsonb_typeof(start_flow.input), 'NULL')
        using errcode = '22023';
    end if;
    v_input_size := jsonb_array_length(start_flow.input);
  elsif start_flow.input is null or jsonb_typeof(start_flow.input) <> 'object' then
    raise exception 'the input of a run must be a JSON object, got %', coalesce(jsonb_typeof(start_flow.input), 'NULL')
      using errcode = '22023';
  end if;
  if start_flow.run_id is not null
    and exists (select 1 from pgflow.runs r where r.run_id = start_flow.run_id) then
    raise exception 'run % already exists', start_flow.run_id using errcode = '23505';
  end if;

  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps, idempotency_key)
  values (
    coalesce(v_run_id, pgflow.uuid_v7()),
    start_flow.flow_slug,
    start_flow.input,
    (select count(*) from pgflow.steps s where s.flow_slug = start_flow.flow_slug),
    start_flow.idempotency_key
  )
  on conflict on constraint runs_pkey do nothing
  returning * into v_run;
  if not found then
    -- Another start committed this run id meanwhile: the same idempotency key, or the same run_id.
    if start_flow.idempotency_key is not null then
      return query select r.* from pgflow.runs r where r.run_id = v_run_id;
      return;
    end if;
    raise exception 'run % already exists', v_run_id using errcode = '23505';
  end if;

  -- Root steps without a condition and with tasks start at once; the others wait, for their
  -- dependencies or for pgflow.advance_runs below.
  with states as (
    insert into pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
    select s.flow_slug, v_run.run_id, s.step_slug, s.deps_count, size.tasks,
      case when plain.starts then 'started' else 'created' end,
      case when plain.starts then clock_timestamp() end,
      case when plain.starts then size.tasks end
    from pgflow.steps s
    cross join lateral (
      select case
        when s.step_type = 'single' then 1
        when s.deps_count = 0 then v_input_size
      end as tasks
    ) size
    cross join lateral (
      select s.deps_count = 0 and size.tasks > 0
        and s.required_input_pattern is null and s.forbidden_input_pattern is null as starts
    ) plain
    where s.flow_slug = start_flow.flow_slug
    returning step_states.status, step_states.remaining_deps
  )
  select coalesce(bool_or(states.status = 'created' and states.remaining_deps = 0), false) into v_waiting from states;

  perform pgflow.emit_event(
    'run:started',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'remaining_steps', v_run.remaining_steps,
      'started_at', v_run.started_at)
  );

  perform pgflow.queue_step_tasks(array_agg(v_run.flow_slug), array_agg(v_run.run_id), array_agg(s.step_slug order by step.step_index))
  from pgflow.step_states s
  join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
  where s.run_id = v_run.run_id and s.status = 'started'
  having count(*) > 0;

  if v_waiting or v_run.remaining_steps = 0 then
    perform pgflow.advance_runs(array[v_run.run_id]);
  end if;

  return query select r.* from pgflow.runs r where r.run_id = v_run.run_id;
end;
$$;

-- src/sql/engine/start_tasks_from_messages.sql
-- pgflow.start_tasks_from_messages(flow_slug, msg_ids, worker_id, move_visibility): the work of
-- pgflow.start_tasks and pgflow.claim_tasks. Starts the tasks behind messages read from the flow's
-- queue and returns them with their input — {"run": <run input>, <dep>: <output>} for each direct
-- dependency that completed, or for a map step's task its element of the array — and the attempt each
-- start counts. `move_visibility` = false when the caller has already hidden the messages for the
-- right time (claim_tasks reads them that way). Nothing starts while the flow is paused.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent: the clock is
-- past started_at + timeout + 2 s. Each start counts an attempt, records the worker (registering an
-- unknown worker id) and hides the message until timeout + 2 s from now, so a dead worker's task
-- comes back once and only once that time has passed. A silent task with no attempt left fails
-- instead, with the run or only its step (pgflow.handle_exhausted_task). Messages of tasks still running get their visibility pushed to the task's deadline.
-- Invariants: tasks of runs that are not `started` never start; a task is started by one caller at a
-- time (its row is locked with SKIP LOCKED, in the same pass that reads it); failing a silent task
-- takes its run's row lock without waiting (SKIP LOCKED), so this never waits on a lock it could
-- deadlock on.
-- timeout + 2 is computed in bigint and a visibility offset is at most the integer maximum, so a
-- timeout at the integer maximum overflows nothing.
create or replace function pgflow.start_tasks_from_messages(
  flow_slug text,
  msg_ids bigint[],
  worker_id uuid,
  move_visibility boolean
)
returns setof pgflow.claimed_task
language plpgsql
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
  v_started pgflow.claimed_task[];
  v_started_messages bigint[];
  v_hide_seconds integer[];
  v_first_starts text[];
  v_first_runs uuid[];
  v_expired jsonb;
  v_task jsonb;
  v_error text;
begin
  select f.* into v_flow from pgflow.flows f where f.flow_slug = start_tasks_from_messages.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', start_tasks_from_messages.flow_slug using errcode = '42704';
  end if;
  -- Nothing starts while the flow is paused; the messages stay hidden for the time their read gave them.
  if coalesce(cardinality(start_tasks_from_messages.msg_ids), 0) = 0 or v_flow.paused_at is not null then
    return;
  end if;

  if start_tasks_from_messages.worker_id is not null
    and not exists (select 1 from pgflow.workers w where w.worker_id = start_tasks_from_messages.worker_id) then
    insert into pgflow.workers (worker_id, queue_name, function_name)
    values (start_tasks_from_messages.worker_id, start_tasks_from_messages.flow_slug, 'unregistered')
    on conflict on constraint workers_pkey do nothing;
  end if;

  -- One pass over the messages' tasks: lock them, then start those that may start and note the
  -- silent ones that have no attempt left.
  with tasks as (
    select t.run_id, t.step_slug, t.task_index, t.status, t.attempts_count, s.step_type, s.deps_count,
      -- max_attempts 0 means one attempt, as 1 does
      greatest(coalesce(s.opt_max_attempts, v_flow.opt_max_attempts), 1) as max_attempts,
      coalesce(s.opt_timeout, v_flow.opt_timeout) as timeout,
      t.status = 'started'
        and clock_timestamp() >= t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout)::bigint + 2)
        as silent
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    where t.flow_slug = start_tasks_from_messages.flow_slug
      and t.message_id = any(start_tasks_from_messages.msg_ids)
      and t.status in ('queued', 'started')
      -- scalar subqueries keep every lookup on a primary key, whatever the table statistics say
      and (select r.status from pgflow.runs r where r.run_id = t.run_id) = 'started'
    for update of t skip locked
  ),
  -- The array a map task takes its element from, read once per run and step of this batch: indexing a
  -- large (TOASTed) array fetches and decompresses all of it, so it is copied here once rather than
  -- once per task. NULL for a map over a map, whose task i reads task i of the map before it.
  map_arrays as materialized (
    select m.run_id, m.step_slug,
      case
        when m.deps_count = 0 then (select r.input || '[]'::jsonb from pgflow.runs r where r.run_id = m.run_id)
        else (
          select dep_task.output || '[]'::jsonb
          from pgflow.deps d
          join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug
          join pgflow.step_tasks dep_task on dep_task.run_id = m.run_id and dep_task.step_slug = d.dep_slug and dep_task.task_index = 0
          where d.flow_slug = start_tasks_from_messages.flow_slug and d.step_slug = m.step_slug and dep_step.step_type = 'single'
        )
      end as items
    from (select distinct c.run_id, c.step_slug, c.deps_count from tasks c where c.step_type = 'map') m
  ),
  started as (
    update pgflow.step_tasks t
    set status = 'started',
        started_at = clock_timestamp(),
        attempts_count = t.attempts_count + 1,
        last_worker_id = start_tasks_from_messages.worker_id
    from tasks c
    where t.run_id = c.run_id
      and t.step_slug = c.step_slug
      and t.task_index = c.task_index
      and (c.status = 'queued' or (c.silent and c.attempts_count < c.max_attempts))
    returning c.timeout, row(
      t.flow_slug,
      t.run_id,
      t.step_slug,
      -- The input, built here rather than by pgflow.step_input because this is the hot path: a map
      -- task gets its element of the array it fans out over; a single step's task gets the run input
      -- and the output of each dependency that completed.
      case
        when c.step_type = 'map' then coalesce(
          (select a.items -> t.task_index from map_arrays a where a.run_id = t.run_id and a.step_slug = t.step_slug),
          (
            select x.output
            from pgflow.deps d
            join pgflow.step_tasks x on x.run_id = t.run_id and x.step_slug = d.dep_slug and x.task_index = t.task_index
            where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug
          )
        )
        else jsonb_build_object('run', (select r.input from pgflow.runs r where r.run_id = t.run_id)) || coalesce((
          select jsonb_object_agg(d.dep_slug, dep.output)
          from pgflow.deps d
          join pgflow.steps dep_step on dep_step.flow_slug = d.flow_slug and dep_step.step_slug = d.dep_slug
          cross join lateral (
            select x.output from pgflow.step_tasks x
            where dep_step.step_type = 'single'
              and x.run_id = t.run_id and x.step_slug = d.dep_slug and x.task_index = 0 and x.status = 'completed'
            union all
            select pgflow.step_output(t.run_id, d.dep_slug)
            where dep_step.step_type = 'map'
              and (select ds.status from pgflow.step_states ds where ds.run_id = t.run_id and ds.step_slug = d.dep_slug) = 'completed'
          ) dep(output)
          where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug
        ), '{}'::jsonb)
      end,
      t.message_id,
      t.task_index,
      t.attempts_count
    )::pgflow.claimed_task as task
  )
  select array_agg(started.task order by (started.task).msg_id),
    array_agg((started.task).msg_id),
    array_agg(least(started.timeout::bigint + 2, 2147483647)::integer),
    array_agg((started.task).step_slug) filter (where (started.task).attempts_count = 1),
    array_agg((started.task).run_id) filter (where (started.task).attempts_count = 1),
    (
      select jsonb_agg(jsonb_build_object('run_id', c.run_id, 'step_slug', c.step_slug, 'task_index', c.task_index,
        'attempts', c.attempts_count, 'max_attempts', c.max_attempts, 'timeout', c.timeout))
      from tasks c
      where c.silent and c.attempts_count >= c.max_attempts
    )
  into v_started, v_started_messages, v_hide_seconds, v_first_starts, v_first_runs, v_expired
  from started;

  -- A silent task with no attempt left fails, and then its run or, as its step's when_exhausted says,
  -- only its step (the task row is ours already).
  for v_task in select * from jsonb_array_elements(coalesce(v_expired, '[]'::jsonb))
  loop
    perform 1 from pgflow.runs r where r.run_id = (v_task ->> 'run_id')::uuid and r.status = 'started' for update skip locked;
    continue when not found;
    v_error := format('timed out: attempt %s of %s did not finish within %s s (timeout + 2 s)',
      v_task ->> 'attempts', v_task ->> 'max_attempts', (v_task ->> 'timeout')::bigint + 2);
    update pgflow.step_tasks t
    set status = 'failed', failed_at = clock_timestamp(), error_message = v_error
    where t.run_id = (v_task ->> 'run_id')::uuid
      and t.step_slug = v_task ->> 'step_slug'
      and t.task_index = (v_task ->> 'task_index')::integer
      and t.status = 'started';
    if found then
      perform pgflow.handle_exhausted_task((v_task ->> 'run_id')::uuid, v_task ->> 'step_slug', v_error);
    end if;
  end loop;

  -- A started task's message stays hidden until the task's deadline (timeout + 2 s after its start);
  -- so does the message of a task still running within its deadline, which was delivered again.
  if start_tasks_from_messages.move_visibility then
    if v_started_messages is not null then
      perform pgflow.set_vt_batch(start_tasks_from_messages.flow_slug, v_started_messages, v_hide_seconds);
    end if;
    if coalesce(cardinality(v_started_messages), 0) < cardinality(start_tasks_from_messages.msg_ids) then
      perform pgflow.set_vt_batch(
        start_tasks_from_messages.flow_slug,
        array_agg(t.message_id),
        array_agg(least(greatest(1, ceil(extract(epoch from
          t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout)::bigint + 2) - clock_timestamp()
        ))), 2147483647)::integer)
      )
      from pgflow.step_tasks t
      join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
      where t.flow_slug = start_tasks_from_messages.flow_slug
        and t.message_id = any(start_tasks_from_messages.msg_ids)
        and t.message_id <> all(coalesce(v_started_messages, '{}'))
        and t.status = 'started';
    end if;
  end if;

  -- step:started once per step: when its first task starts (a map step has many).
  if v_first_runs is not null then
    select array_agg(f.run_id order by f.ord), array_agg(f.step_slug order by f.ord)
    into v_first_runs, v_first_starts
    from (
      select distinct on (f.run_id, f.step_slug) f.run_id, f.step_slug, f.ord
      from unnest(v_first_runs, v_first_starts) with ordinality as f(run_id, step_slug, ord)
      order by f.run_id, f.step_slug, f.ord
    ) f
    where not exists (
      select 1 from pgflow.step_tasks x
      where x.run_id = f.run_id and x.step_slug = f.step_slug and x.attempts_count > 0
        and x.message_id <> all(v_started_messages)
    );
  end if;
  if v_first_runs is not null then
    perform pgflow.emit_events(
      'step:started',
      array_fill(start_tasks_from_messages.flow_slug, array[cardinality(v_first_runs)]),
      array(
        select jsonb_build_object('run_id', f.run_id, 'step_slug', f.step_slug, 'status', 'started', 'started_at', clock_timestamp())
        from unnest(v_first_runs, v_first_starts) with ordinality as f(run_id, step_slug, ord)
        order by f.ord
      )
    );
  end if;

  return query select * from unnest(v_started);
end;
$$;

-- src/sql/engine/start_tasks.sql
-- pgflow.start_tasks(flow_slug, msg_ids, worker_id): starts the tasks behind messages a worker has
-- read from the flow's queue (pgmq.read) and returns them with their input: {"run": <run input>,
-- <dep>: <output>} for each direct dependency.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent (the clock is past
-- started_at + timeout + 2 s). Each start counts an attempt, records the worker and hides the message
-- until timeout + 2 s from now. See pgflow.start_tasks_from_messages for the details and invariants.
-- A NULL worker_id is refused (22004) before anything changes: every start records its worker.
create or replace function pgflow.start_tasks(
  flow_slug text,
  msg_ids bigint[],
  worker_id uuid
)
returns setof pgflow.step_task_record
language plpgsql
security definer
set search_path = ''
as $$
begin
  if start_tasks.worker_id is null then
    raise exception 'worker_id must not be NULL'
      using errcode = '22004',
            hint = 'Pass the worker''s id: any UUID, registered on first use (or with pgflow.register_worker).';
  end if;
  return query
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages(start_tasks.flow_slug, start_tasks.msg_ids, start_tasks.worker_id, true) as started;
end;
$$;

-- src/sql/engine/stop_worker.sql
-- pgflow.stop_worker(worker_id): records that the worker has shut down (stopped_at).
-- Stopping a stopped worker keeps the first stop time; unknown workers are an error.
create or replace function pgflow.stop_worker(worker_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update pgflow.workers w
  set stopped_at = coalesce(w.stopped_at, clock_timestamp())
  where w.worker_id = stop_worker.worker_id;
  if not found then
    raise exception 'worker % is not registered', stop_worker.worker_id using errcode = '42704';
  end if;
end;
$$;

-- src/sql/engine/unschedule_flow.sql
-- pgflow.unschedule_flow(flow_slug, schedule_name): removes a schedule and the record of its fired
-- ticks (the runs they started stay). Returns whether there was such a schedule.
create or replace function pgflow.unschedule_flow(flow_slug text, schedule_name text)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from pgflow.schedules s
  where s.flow_slug = unschedule_flow.flow_slug and s.schedule_name = unschedule_flow.schedule_name;
  return found;
end;
$$;

-- src/sql/engine/add_step.sql
-- pgflow.add_step(...): adds a step to a flow, after the steps it depends on.
--
-- Two overloads serve every call form: the main one takes dependencies and named options
-- (max_attempts, base_delay, timeout, start_delay, step_type, and the condition: required_input_pattern,
-- forbidden_input_pattern, when_unmet, when_exhausted); the second takes the three options
-- positionally for a step without dependencies (`add_step('f', 's', 7, 2, 30)`). Its parameters carry
-- other names, so named calls always resolve to the main signature.
--
-- step_type is 'single' (one task) or 'map' (one task per element of an array: the run input for a
-- map without dependencies, else the output of its one dependency). A step runs only when its input
-- contains required_input_pattern and does not contain forbidden_input_pattern (JSON objects, checked
-- with @>); otherwise when_unmet decides: 'skip' (default), 'skip-cascade' or 'fail'. when_exhausted
-- decides what a task that failed its last attempt does: 'fail' the run (default), or 'skip' /
-- 'skip-cascade' the step.
--
-- max_attempts counts every attempt, the first included; 0 means the same as 1 (one attempt, never
-- retried), as for pgflow.create_flow.
--
-- Invariants: dependencies must already exist, so the steps always form a DAG; the flow row is locked
-- so concurrent calls number steps without gaps or clashes; adding an existing step again is a no-op
-- (options and conditions passed are updated), while changing its dependencies or its type is refused.
-- Errors leave nothing behind.
create or replace function pgflow.add_step(
  flow_slug text,
  step_slug text,
  deps_slugs text[] default '{}',
  max_attempts integer default null,
  base_delay integer default null,
  timeout integer default null,
  start_delay integer default null,
  step_type text default 'single',
  required_input_pattern jsonb default null,
  forbidden_input_pattern jsonb default null,
  when_unmet text default null,
  when_exhausted text default null
)
returns pgflow.steps
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deps text[] := coalesce(add_step.deps_slugs, '{}');
  v_step pgflow.steps;
  v_existing_deps text[];
  v_unknown text[];
  v_repeated text;
begin
  perform 1 from pgflow.flows f where f.flow_slug = add_step.flow_slug for update;
  if not found then
    raise exception 'flow "%" does not exist', add_step.flow_slug
      using errcode = '42704', hint = 'Create it first with pgflow.create_flow().';
  end if;

  if not pgflow.is_valid_slug(add_step.step_slug) then
    raise exception 'invalid step slug % in flow "%"', coalesce(quote_literal(add_step.step_slug), 'NULL'), add_step.flow_slug
      using errcode = '22023',
            hint = 'A slug has 1 to 128 letters, digits and underscores, starts with a letter or underscore, and is not "run" (reserved for the run input).';
  end if;
  if coalesce(add_step.step_type, 'single') not in ('single', 'map') then
    raise exception 'invalid step_type "%" for step "%": expected ''single'' or ''map''', add_step.step_type, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.step_type = 'map' and cardinality(v_deps) > 1 then
    raise exception 'map step "%" can depend on one step at most (it maps over that step''s output), got % dependencies: %',
      add_step.step_slug, cardinality(v_deps), array_to_string(v_deps, ', ')
      using errcode = '22023';
  end if;
  if add_step.required_input_pattern is not null and jsonb_typeof(add_step.required_input_pattern) <> 'object' then
    raise exception 'required_input_pattern of step "%" must be a JSON object, got %', add_step.step_slug, jsonb_typeof(add_step.required_input_pattern)
      using errcode = '22023';
  end if;
  if add_step.forbidden_input_pattern is not null and jsonb_typeof(add_step.forbidden_input_pattern) <> 'object' then
    raise exception 'forbidden_input_pattern of step "%" must be a JSON object, got %', add_step.step_slug, jsonb_typeof(add_step.forbidden_input_pattern)
      using errcode = '22023';
  end if;
  if add_step.when_unmet not in ('fail', 'skip', 'skip-cascade') then
    raise exception 'invalid when_unmet "%" for step "%": expected ''fail'', ''skip'' or ''skip-cascade''', add_step.when_unmet, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.when_exhausted not in ('fail', 'skip', 'skip-cascade') then
    raise exception 'invalid when_exhausted "%" for step "%": expected ''fail'', ''skip'' or ''skip-cascade''', add_step.when_exhausted, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.max_attempts < 0 then
    raise exception 'max_attempts must be 0 or more (got %) for step "%"', add_step.max_attempts, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.base_delay < 0 then
    raise exception 'base_delay must be 0 or more (got %) for step "%"', add_step.base_delay, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.timeout <= 0 then
    raise exception 'timeout must be greater than 0 (got %) for step "%"', add_step.timeout, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.start_delay < 0 then
    raise exception 'start_delay must be 0 or more (got %) for step "%"', add_step.start_delay, add_step.step_slug
      using errcode = '22023';
  end if;

  if array_position(v_deps, null) is not null then
    raise exception 'the dependencies of step "%" contain NULL', add_step.step_slug
      using errcode = '22004';
  end if;
  if add_step.step_slug = any(v_deps) then
    raise exception 'step "%" cannot depend on itself', add_step.step_slug
      using errcode = '22023';
  end if;
  select d into v_repeated from unnest(v_deps) as d group by d having count(*) > 1 limit 1;
  if found then
    raise exception 'step "%" lists dependency "%" more than once', add_step.step_slug, v_repeated
      using errcode = '22023';
  end if;
  v_unknown := array(
    select d
    from unnest(v_deps) with ordinality as dep(d, ord)
    where not exists (select 1 from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = dep.d)
    order by dep.ord
  );
  if cardinality(v_unknown) > 0 then
    raise exception 'step "%" depends on unknown step(s) % of flow "%"', add_step.step_slug, array_to_string(v_unknown, ', '), add_step.flow_slug
      using errcode = '42704', hint = 'Add dependencies before the steps that depend on them.';
  end if;

  select s.* into v_step from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = add_step.step_slug;
  if found then
    v_existing_deps := array(
      select d.dep_slug from pgflow.deps d
      where d.flow_slug = add_step.flow_slug and d.step_slug = add_step.step_slug
      order by d.dep_slug
    );
    if v_existing_deps <> array(select d from unnest(v_deps) as d order by d) then
      raise exception 'step "%" of flow "%" already exists with dependencies {%}; it cannot be changed to {%}',
        add_step.step_slug, add_step.flow_slug, array_to_string(v_existing_deps, ', '), array_to_string(v_deps, ', ')
        using errcode = '22023', hint = 'Create a new flow (or a step with another slug) to change the shape of a flow.';
    end if;
    if v_step.step_type <> coalesce(add_step.step_type, 'single') then
      raise exception 'step "%" of flow "%" already exists as a % step; it cannot become a % step',
        add_step.step_slug, add_step.flow_slug, v_step.step_type, coalesce(add_step.step_type, 'single')
        using errcode = '22023', hint = 'Create a new flow (or a step with another slug) to change the shape of a flow.';
    end if;
    update pgflow.steps s
    set opt_max_attempts = coalesce(add_step.max_attempts, s.opt_max_attempts),
        opt_base_delay = coalesce(add_step.base_delay, s.opt_base_delay),
        opt_timeout = coalesce(add_step.timeout, s.opt_timeout),
        opt_start_delay = coalesce(add_step.start_delay, s.opt_start_delay),
        required_input_pattern = coalesce(add_step.required_input_pattern, s.required_input_pattern),
        forbidden_input_pattern = coalesce(add_step.forbidden_input_pattern, s.forbidden_input_pattern),
        when_unmet = coalesce(add_step.when_unmet, s.when_unmet),
        when_exhausted = coalesce(add_step.when_exhausted, s.when_exhausted)
    where s.flow_slug = add_step.flow_slug
      and s.step_slug = add_step.step_slug
      and (s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay,
           s.required_input_pattern, s.forbidden_input_pattern, s.when_unmet, s.when_exhausted) is distinct from (
        coalesce(add_step.max_attempts, s.opt_max_attempts),
        coalesce(add_step.base_delay, s.opt_base_delay),
        coalesce(add_step.timeout, s.opt_timeout),
        coalesce(add_step.start_delay, s.opt_start_delay),
        coalesce(add_step.required_input_pattern, s.required_input_pattern),
        coalesce(add_step.forbidden_input_pattern, s.forbidden_input_pattern),
        coalesce(add_step.when_unmet, s.when_unmet),
        coalesce(add_step.when_exhausted, s.when_exhausted)
      )
    returning s.* into v_step;
    if v_step.step_slug is null then
      select s.* into v_step from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = add_step.step_slug;
    end if;
    return v_step;
  end if;

  insert into pgflow.steps (
    flow_slug, step_slug, step_type, step_index, deps_count,
    opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
    required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted
  )
  values (
    add_step.flow_slug,
    add_step.step_slug,
    coalesce(add_step.step_type, 'single'),
    (select coalesce(max(s.step_index) + 1, 0) from pgflow.steps s where s.flow_slug = add_step.flow_slug),
    cardinality(v_deps),
    add_step.max_attempts,
    add_step.base_delay,
    add_step.timeout,
    add_step.start_delay,
    add_step.required_input_pattern,
    add_step.forbidden_input_pattern,
    coalesce(add_step.when_unmet, 'skip'),
    coalesce(add_step.when_exhausted, 'fail')
  )
  returning * into v_step;

  insert into pgflow.deps (flow_slug, dep_slug, step_slug)
  select add_step.flow_slug, d, add_step.step_slug
  from unnest(v_deps) as d;

  return v_step;
end;
$$;

create or replace function pgflow.add_step(
  flow_slug text,
  step_slug text,
  opt_max_attempts integer,
  opt_base_delay integer default null,
  opt_timeout integer default null
)
returns pgflow.steps
language sql
security definer
set search_path = ''
as $$
  select * from pgflow.add_step(
    flow_slug => $1,
    step_slug => $2,
    deps_slugs => '{}'::text[],
    max_attempts => $3,
    base_delay => $4,
    timeout => $5
  );
$$;

-- src/sql/engine/calculate_retry_delay.sql
-- pgflow.calculate_retry_delay(base_delay, attempts_count): exponential backoff in whole seconds,
-- floor(base_delay * 2^attempts_count).
--
-- The engine waits calculate_retry_delay(base_delay, n - 1) after the n-th failed attempt, so the
-- first retry waits base_delay. Invariants: the result is an integer that never overflows: it is
-- capped at 2147483647 s (the largest integer, about 68 years), and never below 0 (a negative
-- base_delay, which the engine refuses in create_flow and add_step, gives 0). now() plus the cap is
-- far inside PostgreSQL's timestamp range, so fail_task's visibility update (pgmq.set_vt) never
-- overflows either, whatever base_delay and attempts_count are. The exponent is limited to 1000
-- before the power is taken, so the numeric it computes stays small.
create or replace function pgflow.calculate_retry_delay(base_delay numeric, attempts_count integer)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select greatest(
    least(
      floor(base_delay * power(2::numeric, least(attempts_count, 1000)::numeric)),
      2147483647
    ),
    0
  )::integer;
$$;

-- src/sql/engine/get_run_with_states.sql
-- pgflow.get_run_with_states(run_id): the run and the states of its steps as one JSON document,
-- {"run": {...}, "steps": [{...}, ...]} with steps in definition order; NULL when the run does not exist.
create or replace function pgflow.get_run_with_states(run_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'run', to_jsonb(r),
    'steps', coalesce((
      select jsonb_agg(to_jsonb(s) order by step.step_index)
      from pgflow.step_states s
      join pgflow.steps step on step.flow_slug = s.flow_slug and step.step_slug = s.step_slug
      where s.run_id = r.run_id
    ), '[]'::jsonb)
  )
  from pgflow.runs r
  where r.run_id = get_run_with_states.run_id;
$$;

-- src/sql/engine/grant_admin.sql
-- pgflow.grant_admin(role_name): gives an existing role the admin access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_admin takes it back.
create or replace function pgflow.grant_admin(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_admin.role_name, 'admin', true);
$$;

-- src/sql/engine/grant_client.sql
-- pgflow.grant_client(role_name): gives an existing role the client access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_client takes it back.
create or replace function pgflow.grant_client(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_client.role_name, 'client', true);
$$;

-- src/sql/engine/grant_reader.sql
-- pgflow.grant_reader(role_name): gives an existing role the reader access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_reader takes it back.
create or replace function pgflow.grant_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_reader.role_name, 'reader', true);
$$;

-- src/sql/engine/grant_worker.sql
-- pgflow.grant_worker(role_name): gives an existing role the worker access level to pgflow described in
-- pgflow.apply_role_access and records it in pgflow.role_access. Idempotent; pgflow.revoke_worker takes it back.
create or replace function pgflow.grant_worker(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(grant_worker.role_name, 'worker', true);
$$;

-- src/sql/engine/idempotent_run_id.sql
-- pgflow.idempotent_run_id(flow_slug, idempotency_key): the run id an idempotent start of the flow
-- with this key gets — the same for the same pair, always, on every server — as a UUID (version 8,
-- from an MD5 of the pair). Keying the run on it lets the runs' primary key make the start
-- idempotent, with no index beyond run_id (runs stay distributable by run_id).
create or replace function pgflow.idempotent_run_id(flow_slug text, idempotency_key text)
returns uuid
language sql
immutable
parallel safe
set search_path = ''
as $$
  select (
    substr(h.hex, 1, 12) || '8' || substr(h.hex, 14, 3)
    || substr('89ab', get_byte(decode(substr(h.hex, 17, 2), 'hex'), 0) % 4 + 1, 1)
    || substr(h.hex, 18, 15)
  )::uuid
  from (select md5(idempotent_run_id.flow_slug || chr(31) || idempotent_run_id.idempotency_key) as hex) h;
$$;

-- src/sql/engine/register_worker.sql
-- pgflow.register_worker(worker_id, queue_name, function_name): records a worker that serves the
-- queue; returns its row. Idempotent: registering again refreshes the heartbeat, the queue and the
-- function name, and clears stopped_at.
create or replace function pgflow.register_worker(
  worker_id uuid,
  queue_name text,
  function_name text
)
returns pgflow.workers
language sql
security definer
set search_path = ''
as $$
  insert into pgflow.workers as w (worker_id, queue_name, function_name)
  values ($1, $2, $3)
  on conflict on constraint workers_pkey do update
  set queue_name = excluded.queue_name,
      function_name = excluded.function_name,
      last_heartbeat_at = clock_timestamp(),
      stopped_at = null
  returning w.*;
$$;

-- src/sql/engine/revoke_admin.sql
-- pgflow.revoke_admin(role_name): takes back the admin access level given by pgflow.grant_admin; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_admin(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_admin.role_name, 'admin', false);
$$;

-- src/sql/engine/revoke_client.sql
-- pgflow.revoke_client(role_name): takes back the client access level given by pgflow.grant_client; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_client(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_client.role_name, 'client', false);
$$;

-- src/sql/engine/revoke_reader.sql
-- pgflow.revoke_reader(role_name): takes back the reader access level given by pgflow.grant_reader; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_reader(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_reader.role_name, 'reader', false);
$$;

-- src/sql/engine/revoke_worker.sql
-- pgflow.revoke_worker(role_name): takes back the worker access level given by pgflow.grant_worker; what the
-- role's other recorded levels need stays granted (see pgflow.set_role_access).
create or replace function pgflow.revoke_worker(role_name name)
returns void
language sql
set search_path = ''
as $$
  select pgflow.set_role_access(revoke_worker.role_name, 'worker', false);
$$;

-- pgflow.version(): the pgflow-orm release installed in this database; each release redefines it.
create or replace function pgflow.version()
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select '0.4.0'::text;
$$;

-- Only pgflow's owner runs its functions, unless a role is granted access (pgflow.grant_worker, grant_client,
-- grant_reader, grant_admin); roles granted before this release get what it adds.
revoke execute on all routines in schema pgflow from public;

alter default privileges in schema pgflow revoke execute on routines from public;

select pgflow.refresh_grants();

insert into "drizzle"."__pgflow_migrations" (hash, created_at) values ('82f981a606115ef743c835382ec0651c4dcff6d5ef89b23d7b84986552eb2cdc', 1796595860807);

commit;
