-- pgflow-orm 0.1.0: the release as one plain SQL file, for psql or any migrator.
-- Installs pgflow-orm 0.1.0 in a database without pgflow.
-- Apply the release files in order, each once: psql -v ON_ERROR_STOP=1 -f pgflow-orm-0.1.0.sql
-- Migrations: 0000_pgflow_tables, 0001_pgflow_0_1_0_functions.
-- They are recorded in drizzle.__pgflow_migrations as drizzle's migrator records them, so
-- drizzle-kit migrate, migratePgflow() or the Kysely migrator can take over later.
-- Generated from the migrations folder when the release is cut; a released file is never edited.
begin;
set local client_min_messages = warning;

-- Waits for any other pgflow migrator working on this database, then checks that pgflow is not installed.
do $pgflow_release$
begin
  perform pg_advisory_xact_lock(hashtextextended('pgflow-orm:migrations', 0));
  if to_regnamespace('pgflow') is not null then
    raise exception 'pgflow is already installed in this database; pgflow-orm-0.1.0.sql installs pgflow-orm 0.1.0 on a database without it'
      using hint = 'Apply only the release files newer than the installed pgflow.version(), in order.';
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
-- 0000_pgflow_tables.sql (sha256 ff48a275e0e740791322ad9784de903a466c7fa0e0baf5919a57e518c5ba9d8c)
CREATE SCHEMA "pgflow";

CREATE TABLE "pgflow"."deps" (
	"flow_slug" text NOT NULL,
	"dep_slug" text NOT NULL,
	"step_slug" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deps_pkey" PRIMARY KEY("flow_slug","dep_slug","step_slug"),
	CONSTRAINT "deps_check" CHECK ("pgflow"."deps"."dep_slug" <> "pgflow"."deps"."step_slug")
);

CREATE TABLE "pgflow"."flows" (
	"flow_slug" text PRIMARY KEY NOT NULL,
	"opt_max_attempts" integer DEFAULT 3 NOT NULL,
	"opt_base_delay" integer DEFAULT 1 NOT NULL,
	"opt_timeout" integer DEFAULT 60 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "slug_is_valid" CHECK ("pgflow"."flows"."flow_slug" ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length("pgflow"."flows"."flow_slug") <= 47 and "pgflow"."flows"."flow_slug" <> 'run'),
	CONSTRAINT "opt_max_attempts_is_nonnegative" CHECK ("pgflow"."flows"."opt_max_attempts" >= 0),
	CONSTRAINT "opt_base_delay_is_nonnegative" CHECK ("pgflow"."flows"."opt_base_delay" >= 0),
	CONSTRAINT "opt_timeout_is_positive" CHECK ("pgflow"."flows"."opt_timeout" > 0)
);

CREATE TABLE "pgflow"."runs" (
	"run_id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"flow_slug" text NOT NULL,
	"status" text DEFAULT 'started' NOT NULL,
	"input" jsonb NOT NULL,
	"output" jsonb,
	"remaining_steps" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	CONSTRAINT "status_is_valid" CHECK ("pgflow"."runs"."status" in ('started', 'completed', 'failed')),
	CONSTRAINT "runs_remaining_steps_check" CHECK ("pgflow"."runs"."remaining_steps" >= 0),
	CONSTRAINT "completed_at_or_failed_at" CHECK (not ("pgflow"."runs"."completed_at" is not null and "pgflow"."runs"."failed_at" is not null)),
	CONSTRAINT "completed_at_is_after_started_at" CHECK ("pgflow"."runs"."completed_at" is null or "pgflow"."runs"."completed_at" >= "pgflow"."runs"."started_at"),
	CONSTRAINT "failed_at_is_after_started_at" CHECK ("pgflow"."runs"."failed_at" is null or "pgflow"."runs"."failed_at" >= "pgflow"."runs"."started_at"),
	CONSTRAINT "status_matches_timestamps" CHECK (("pgflow"."runs"."status" = 'started' and "pgflow"."runs"."completed_at" is null and "pgflow"."runs"."failed_at" is null)
        or ("pgflow"."runs"."status" = 'completed' and "pgflow"."runs"."completed_at" is not null)
        or ("pgflow"."runs"."status" = 'failed' and "pgflow"."runs"."failed_at" is not null))
);

CREATE TABLE "pgflow"."step_states" (
	"flow_slug" text NOT NULL,
	"run_id" uuid NOT NULL,
	"step_slug" text NOT NULL,
	"status" text DEFAULT 'created' NOT NULL,
	"remaining_tasks" integer,
	"remaining_deps" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"error_message" text,
	"initial_tasks" integer,
	CONSTRAINT "step_states_pkey" PRIMARY KEY("run_id","step_slug"),
	CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed')),
	CONSTRAINT "step_states_remaining_deps_check" CHECK ("pgflow"."step_states"."remaining_deps" >= 0),
	CONSTRAINT "step_states_remaining_tasks_check" CHECK ("pgflow"."step_states"."remaining_tasks" is null or "pgflow"."step_states"."remaining_tasks" >= 0),
	CONSTRAINT "step_states_initial_tasks_check" CHECK ("pgflow"."step_states"."initial_tasks" is null or "pgflow"."step_states"."initial_tasks" >= 0),
	CONSTRAINT "status_and_remaining_tasks_match" CHECK ("pgflow"."step_states"."status" <> 'completed' or coalesce("pgflow"."step_states"."remaining_tasks", -1) = 0),
	CONSTRAINT "remaining_tasks_state_consistency" CHECK ("pgflow"."step_states"."remaining_tasks" is null or "pgflow"."step_states"."status" <> 'created'),
	CONSTRAINT "initial_tasks_known_when_started" CHECK ("pgflow"."step_states"."status" <> 'started' or "pgflow"."step_states"."initial_tasks" is not null),
	CONSTRAINT "completed_at_or_failed_at" CHECK (not ("pgflow"."step_states"."completed_at" is not null and "pgflow"."step_states"."failed_at" is not null)),
	CONSTRAINT "started_at_is_after_created_at" CHECK ("pgflow"."step_states"."started_at" is null or "pgflow"."step_states"."started_at" >= "pgflow"."step_states"."created_at"),
	CONSTRAINT "completed_at_is_after_started_at" CHECK ("pgflow"."step_states"."completed_at" is null or "pgflow"."step_states"."completed_at" >= "pgflow"."step_states"."started_at"),
	CONSTRAINT "failed_at_is_after_started_at" CHECK ("pgflow"."step_states"."failed_at" is null or "pgflow"."step_states"."failed_at" >= "pgflow"."step_states"."started_at")
);

CREATE TABLE "pgflow"."step_tasks" (
	"flow_slug" text NOT NULL,
	"run_id" uuid NOT NULL,
	"step_slug" text NOT NULL,
	"message_id" bigint,
	"task_index" integer DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"attempts_count" integer DEFAULT 0 NOT NULL,
	"error_message" text,
	"output" jsonb,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"last_worker_id" uuid,
	CONSTRAINT "step_tasks_pkey" PRIMARY KEY("run_id","step_slug","task_index"),
	CONSTRAINT "valid_status" CHECK ("pgflow"."step_tasks"."status" in ('queued', 'started', 'completed', 'failed')),
	CONSTRAINT "attempts_count_nonnegative" CHECK ("pgflow"."step_tasks"."attempts_count" >= 0),
	CONSTRAINT "task_index_nonnegative" CHECK ("pgflow"."step_tasks"."task_index" >= 0),
	CONSTRAINT "output_valid_only_for_completed" CHECK ("pgflow"."step_tasks"."output" is null or "pgflow"."step_tasks"."status" in ('completed', 'failed')),
	CONSTRAINT "completed_at_or_failed_at" CHECK (not ("pgflow"."step_tasks"."completed_at" is not null and "pgflow"."step_tasks"."failed_at" is not null)),
	CONSTRAINT "started_at_is_after_queued_at" CHECK ("pgflow"."step_tasks"."started_at" is null or "pgflow"."step_tasks"."started_at" >= "pgflow"."step_tasks"."queued_at"),
	CONSTRAINT "completed_at_is_after_queued_at" CHECK ("pgflow"."step_tasks"."completed_at" is null or "pgflow"."step_tasks"."completed_at" >= "pgflow"."step_tasks"."queued_at"),
	CONSTRAINT "failed_at_is_after_queued_at" CHECK ("pgflow"."step_tasks"."failed_at" is null or "pgflow"."step_tasks"."failed_at" >= "pgflow"."step_tasks"."queued_at"),
	CONSTRAINT "completed_at_is_after_started_at" CHECK ("pgflow"."step_tasks"."completed_at" is null or "pgflow"."step_tasks"."started_at" is null or "pgflow"."step_tasks"."completed_at" >= "pgflow"."step_tasks"."started_at"),
	CONSTRAINT "failed_at_is_after_started_at" CHECK ("pgflow"."step_tasks"."failed_at" is null or "pgflow"."step_tasks"."started_at" is null or "pgflow"."step_tasks"."failed_at" >= "pgflow"."step_tasks"."started_at")
);

CREATE TABLE "pgflow"."steps" (
	"flow_slug" text NOT NULL,
	"step_slug" text NOT NULL,
	"step_type" text DEFAULT 'single' NOT NULL,
	"step_index" integer DEFAULT 0 NOT NULL,
	"deps_count" integer DEFAULT 0 NOT NULL,
	"opt_max_attempts" integer,
	"opt_base_delay" integer,
	"opt_timeout" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"opt_start_delay" integer,
	CONSTRAINT "steps_pkey" PRIMARY KEY("flow_slug","step_slug"),
	CONSTRAINT "steps_flow_slug_step_index_key" UNIQUE("flow_slug","step_index"),
	CONSTRAINT "steps_step_slug_check" CHECK ("pgflow"."steps"."step_slug" ~ '^[a-zA-Z_][a-zA-Z0-9_]*$' and length("pgflow"."steps"."step_slug") <= 128 and "pgflow"."steps"."step_slug" <> 'run'),
	CONSTRAINT "steps_step_type_check" CHECK ("pgflow"."steps"."step_type" in ('single', 'map')),
	CONSTRAINT "steps_deps_count_check" CHECK ("pgflow"."steps"."deps_count" >= 0),
	CONSTRAINT "opt_max_attempts_is_nonnegative" CHECK ("pgflow"."steps"."opt_max_attempts" is null or "pgflow"."steps"."opt_max_attempts" >= 0),
	CONSTRAINT "opt_base_delay_is_nonnegative" CHECK ("pgflow"."steps"."opt_base_delay" is null or "pgflow"."steps"."opt_base_delay" >= 0),
	CONSTRAINT "opt_timeout_is_positive" CHECK ("pgflow"."steps"."opt_timeout" is null or "pgflow"."steps"."opt_timeout" > 0),
	CONSTRAINT "opt_start_delay_is_nonnegative" CHECK ("pgflow"."steps"."opt_start_delay" is null or "pgflow"."steps"."opt_start_delay" >= 0)
);

CREATE TABLE "pgflow"."workers" (
	"worker_id" uuid PRIMARY KEY NOT NULL,
	"queue_name" text NOT NULL,
	"function_name" text NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"stopped_at" timestamp with time zone,
	"deprecated_at" timestamp with time zone,
	"last_heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "stopped_at_is_after_started_at" CHECK ("pgflow"."workers"."stopped_at" is null or "pgflow"."workers"."stopped_at" >= "pgflow"."workers"."started_at")
);

ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_dep_slug_fkey" FOREIGN KEY ("flow_slug","dep_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_step_slug_fkey" FOREIGN KEY ("flow_slug","step_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "runs_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "pgflow"."runs"("run_id") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_flow_slug_step_slug_fkey" FOREIGN KEY ("flow_slug","step_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "pgflow"."runs"("run_id") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_run_id_step_slug_fkey" FOREIGN KEY ("run_id","step_slug") REFERENCES "pgflow"."step_states"("run_id","step_slug") ON DELETE no action ON UPDATE no action;

ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_last_worker_id_fkey" FOREIGN KEY ("last_worker_id") REFERENCES "pgflow"."workers"("worker_id") ON DELETE set null ON UPDATE no action;

ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "steps_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;

CREATE INDEX "idx_deps_by_flow_dep" ON "pgflow"."deps" USING btree ("flow_slug","dep_slug");

CREATE INDEX "idx_deps_by_flow_step" ON "pgflow"."deps" USING btree ("flow_slug","step_slug");

CREATE INDEX "idx_runs_flow_slug" ON "pgflow"."runs" USING btree ("flow_slug");

CREATE INDEX "idx_runs_status" ON "pgflow"."runs" USING btree ("status");

CREATE INDEX "idx_step_states_flow_slug" ON "pgflow"."step_states" USING btree ("flow_slug");

CREATE INDEX "idx_step_states_ready" ON "pgflow"."step_states" USING btree ("run_id","status","remaining_deps") WHERE "pgflow"."step_states"."status" = 'created' and "pgflow"."step_states"."remaining_deps" = 0;

CREATE INDEX "idx_step_tasks_message_id" ON "pgflow"."step_tasks" USING btree ("message_id");

CREATE INDEX "idx_step_tasks_flow_slug" ON "pgflow"."step_tasks" USING btree ("flow_slug");

CREATE INDEX "idx_workers_queue_name" ON "pgflow"."workers" USING btree ("queue_name");

CREATE INDEX "idx_workers_heartbeat" ON "pgflow"."workers" USING btree ("last_heartbeat_at");

insert into "drizzle"."__pgflow_migrations" (hash, created_at) values ('ff48a275e0e740791322ad9784de903a466c7fa0e0baf5919a57e518c5ba9d8c', 1795307086382);

-- ------------------------------------------------------------------------------------------------
-- 0001_pgflow_0_1_0_functions.sql (sha256 da41288295bf94fc0b884c1a683d582fd83af04ac06463c530f23f04258c82bf)
-- pgflow-orm 0.1.0: engine functions and the task queue.
-- Generated by `npm run db:functions` from src/sql/. A released migration is never edited.
-- The task queue: the pgmq extension (>= 1.5) when the server has it, otherwise the
-- built-in pgmq-compatible queue in schema pgmq (same functions, arguments and tables).
do $pgflow_queue$
declare
  v_installed text := (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pgmq');
  v_available text := (select a.default_version from pg_catalog.pg_available_extensions a where a.name = 'pgmq');
begin
  if v_installed is not null then
    if not string_to_array(split_part(v_installed, '-', 1), '.')::integer[] >= array[1, 5] then
      raise exception 'the pgmq extension % is installed, but pgflow needs pgmq 1.5 or later', v_installed
        using hint = 'Run ALTER EXTENSION pgmq UPDATE, then migrate again.';
    end if;
    return;
  end if;
  if v_available is not null and string_to_array(split_part(v_available, '-', 1), '.')::integer[] >= array[1, 5] then
    create extension pgmq;
    return;
  end if;
  -- src/sql/queue/_schema.sql
  execute $pgflow_source$
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
$pgflow_source$;
  -- src/sql/queue/archive.sql
  execute $pgflow_source$
-- pgmq.archive(queue_name, msg_id | msg_ids): moves messages from pgmq.q_<name> to
-- pgmq.a_<name>. Single form: true if the message existed, false if not. Array form: the ids
-- actually archived (missing ids are left out, no error).
--
-- Invariants: the move is one statement (DELETE ... RETURNING feeding INSERT), so a message is
-- never in both tables or in neither; msg_id, read_ct, enqueued_at, vt, message and headers are
-- kept; archived_at is the transaction time.
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
    pgmq.format_table_name(queue_name, 'q'),
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
    pgmq.format_table_name(queue_name, 'q'),
    pgmq.format_table_name(queue_name, 'a')
  )
  using msg_ids;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/convert_archive_partitioned.sql
  execute $pgflow_source$
-- pgmq.convert_archive_partitioned(table_name, partition_interval, retention_interval,
-- leading_partition): not supported by the built-in queue. Partitioned archives are managed by
-- pg_partman through the real pgmq extension, so this always raises a clear error.
--
-- Invariants: changes nothing; the signature matches pgmq so callers get this error rather
-- than "function does not exist".
create or replace function pgmq.convert_archive_partitioned(
  table_name text,
  partition_interval text default '10000',
  retention_interval text default '100000',
  leading_partition integer default 10
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'partitioned archives are not supported by the built-in pgmq-compatible queue (queue "%")', table_name
    using errcode = 'feature_not_supported',
      hint = 'Partitioned archives need pg_partman and the real pgmq extension.';
end;
$$;
$pgflow_source$;
  -- src/sql/queue/create_non_partitioned.sql
  execute $pgflow_source$
-- pgmq.create_non_partitioned(queue_name): creates a queue: table pgmq.q_<name> (messages),
-- table pgmq.a_<name> (archive), their indexes, and a row in pgmq.meta.
--
-- Invariants: idempotent (IF NOT EXISTS everywhere, meta insert ignores an existing row);
-- safe when several sessions create the same queue at once, because they are serialised by a
-- transaction-level advisory lock on the queue name; msg_id comes from the identity sequence
-- pgmq.q_<name>_msg_id_seq, which pgmq.metrics reads by that name.
create or replace function pgmq.create_non_partitioned(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  archive_table text := pgmq.format_table_name(queue_name, 'a');
begin
  perform pgmq.validate_queue_name(queue_name);
  perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));

  execute format(
    'create table if not exists pgmq.%I (
      msg_id bigint primary key generated always as identity,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    queue_table
  );
  execute format(
    'create table if not exists pgmq.%I (
      msg_id bigint primary key,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      archived_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    archive_table
  );
  execute format('create index if not exists %I on pgmq.%I (vt asc)', queue_table || '_vt_idx', queue_table);
  execute format('create index if not exists %I on pgmq.%I (archived_at)', 'archived_at_idx_' || queue_name, archive_table);

  insert into pgmq.meta (queue_name, is_partitioned, is_unlogged)
  values (queue_name, false, false)
  on conflict do nothing;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/create_partitioned.sql
  execute $pgflow_source$
-- pgmq.create_partitioned(queue_name, partition_interval, retention_interval): not supported by
-- the built-in queue. Partitioned queues are managed by pg_partman through the real pgmq
-- extension, so this always raises a clear error.
--
-- Invariants: creates nothing; the signature matches pgmq so callers get this error rather
-- than "function does not exist".
create or replace function pgmq.create_partitioned(
  queue_name text,
  partition_interval text default '10000',
  retention_interval text default '100000'
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'partitioned queues are not supported by the built-in pgmq-compatible queue (queue "%")', queue_name
    using errcode = 'feature_not_supported',
      hint = 'Partitioned queues need pg_partman and the real pgmq extension. Install both, or use pgmq.create() for a non-partitioned queue.';
end;
$$;
$pgflow_source$;
  -- src/sql/queue/create_unlogged.sql
  execute $pgflow_source$
-- pgmq.create_unlogged(queue_name): creates a queue whose message table pgmq.q_<name> is
-- UNLOGGED (cheaper writes, emptied after a crash); the archive pgmq.a_<name> stays logged.
-- Records the queue in pgmq.meta with is_unlogged = true.
--
-- Invariants: idempotent (IF NOT EXISTS everywhere, meta insert ignores an existing row);
-- safe when several sessions create the same queue at once, because they are serialised by a
-- transaction-level advisory lock on the queue name; msg_id comes from the identity sequence
-- pgmq.q_<name>_msg_id_seq, which pgmq.metrics reads by that name.
create or replace function pgmq.create_unlogged(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  archive_table text := pgmq.format_table_name(queue_name, 'a');
begin
  perform pgmq.validate_queue_name(queue_name);
  perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));

  execute format(
    'create unlogged table if not exists pgmq.%I (
      msg_id bigint primary key generated always as identity,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    queue_table
  );
  execute format(
    'create table if not exists pgmq.%I (
      msg_id bigint primary key,
      read_ct integer not null default 0,
      enqueued_at timestamp with time zone not null default now(),
      archived_at timestamp with time zone not null default now(),
      vt timestamp with time zone not null,
      message jsonb,
      headers jsonb
    )',
    archive_table
  );
  execute format('create index if not exists %I on pgmq.%I (vt asc)', queue_table || '_vt_idx', queue_table);
  execute format('create index if not exists %I on pgmq.%I (archived_at)', 'archived_at_idx_' || queue_name, archive_table);

  insert into pgmq.meta (queue_name, is_partitioned, is_unlogged)
  values (queue_name, false, true)
  on conflict do nothing;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/create.sql
  execute $pgflow_source$
-- pgmq.create(queue_name): creates a queue (logged, not partitioned); see
-- pgmq.create_non_partitioned, which does the work.
--
-- Invariants: idempotent and safe under concurrent creators of the same queue.
create or replace function pgmq.create(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgmq.create_non_partitioned(queue_name);
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
-- error. One DELETE per call.
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
    pgmq.format_table_name(queue_name, 'q')
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
    pgmq.format_table_name(queue_name, 'q')
  )
  using msg_ids;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/detach_archive.sql
  execute $pgflow_source$
-- pgmq.detach_archive(queue_name): deprecated; does nothing but warn. The built-in queue is not
-- an extension, so its archive tables are never extension members and there is nothing to detach.
--
-- Invariants: changes nothing (as pgmq 1.6.0 and later).
create or replace function pgmq.detach_archive(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise warning 'pgmq.detach_archive(queue_name) is deprecated and does nothing; archive tables are never part of an extension';
end;
$$;
$pgflow_source$;
  -- src/sql/queue/drop_queue.sql
  execute $pgflow_source$
-- pgmq.drop_queue(queue_name [, partitioned]): deletes a queue: its message table, its archive
-- table and its pgmq.meta row. Returns true, or false with a NOTICE when there is no such queue.
-- The two-argument form is deprecated: it warns and then does the same.
--
-- Invariants: serialised with pgmq.create* on the same queue name by the same advisory lock;
-- removes every pgmq.meta row that maps to the dropped tables (names differing only in case map
-- to the same tables), so list_queues never lists a queue whose tables are gone.
create or replace function pgmq.drop_queue(queue_name text)
returns boolean
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  archive_table text := pgmq.format_table_name(queue_name, 'a');
begin
  perform pg_advisory_xact_lock(hashtext('pgmq.queue_' || queue_name));

  if to_regclass(format('pgmq.%I', queue_table)) is null
    and not exists (select 1 from pgmq.meta as m where lower(m.queue_name) = lower(drop_queue.queue_name)) then
    raise notice 'pgmq queue `%` does not exist', queue_name;
    return false;
  end if;

  execute format('drop table if exists pgmq.%I', queue_table);
  execute format('drop table if exists pgmq.%I', archive_table);
  delete from pgmq.meta as m where lower(m.queue_name) = lower(drop_queue.queue_name);
  return true;
end;
$$;

create or replace function pgmq.drop_queue(queue_name text, partitioned boolean)
returns boolean
language plpgsql
set search_path = ''
as $$
begin
  raise warning 'pgmq.drop_queue(queue_name, partitioned) is deprecated and will be removed in PGMQ v2.0; use pgmq.drop_queue(queue_name) instead';
  return pgmq.drop_queue(queue_name);
end;
$$;
$pgflow_source$;
  -- src/sql/queue/format_table_name.sql
  execute $pgflow_source$
-- pgmq.format_table_name(queue_name, prefix): the name of a queue's table, `<prefix>_<queue_name>`
-- lowercased (prefix `q` for the queue table, `a` for the archive table).
--
-- Invariants: every queue function derives its table names here, so a name containing `$`, `;`,
-- `--` or a single quote is rejected before any SQL is built; callers still quote the result
-- with format('%I'). Only the table name is lowercased, never the stored queue name.
create or replace function pgmq.format_table_name(
  queue_name text,
  prefix text
)
returns text
language plpgsql
set search_path = ''
as $$
begin
  if queue_name ~ '\$|;|--|''' then
    raise exception 'queue name contains invalid characters: $, ;, --, or ''';
  end if;
  return lower(prefix || '_' || queue_name);
end;
$$;
$pgflow_source$;
  -- src/sql/queue/list_queues.sql
  execute $pgflow_source$
-- pgmq.list_queues(): every queue created with pgmq.create*, as recorded in pgmq.meta, by name.
--
-- Invariants: read-only; queue_name is returned as it was given to create (not lowercased).
create or replace function pgmq.list_queues()
returns setof pgmq.queue_record
language plpgsql
set search_path = ''
as $$
begin
  return query
  select m.queue_name, m.is_partitioned, m.is_unlogged, m.created_at
  from pgmq.meta as m
  order by m.queue_name;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/metrics_all.sql
  execute $pgflow_source$
-- pgmq.metrics_all(): pgmq.metrics() for every queue in pgmq.meta, by queue name.
--
-- Invariants: read-only; one row per pgmq.meta row.
create or replace function pgmq.metrics_all()
returns setof pgmq.metrics_result
language plpgsql
set search_path = ''
as $$
declare
  queue record;
begin
  for queue in select m.queue_name from pgmq.meta as m order by m.queue_name loop
    return next pgmq.metrics(queue.queue_name);
  end loop;
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
-- given.
create or replace function pgmq.metrics(queue_name text)
returns pgmq.metrics_result
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
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
-- the same message; read_ct is not incremented and nothing is archived.
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
    pgmq.format_table_name(queue_name, 'q')
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
-- restarted, so msg_ids keep growing (and metrics' total_messages with them).
create or replace function pgmq.purge_queue(queue_name text)
returns bigint
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  purged bigint;
begin
  execute format('lock table pgmq.%I in access exclusive mode', queue_table);
  execute format('select count(*) from pgmq.%I', queue_table) into purged;
  execute format('truncate table pgmq.%I', queue_table);
  return purged;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/read_with_poll.sql
  execute $pgflow_source$
-- pgmq.read_with_poll(queue_name, vt, qty, max_poll_seconds, poll_interval_ms, conditional):
-- like pgmq.read, but when nothing is visible it retries every `poll_interval_ms` until
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
  queue_table text := pgmq.format_table_name(queue_name, 'q');
  stop_at timestamp with time zone := clock_timestamp() + make_interval(secs => max_poll_seconds);
  read_sql text;
begin
  read_sql := format(
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
  );
  loop
    if clock_timestamp() >= stop_at then
      return;
    end if;
    return query execute read_sql using qty, vt, conditional;
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
  queue_table text := pgmq.format_table_name(queue_name, 'q');
begin
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
  -- src/sql/queue/send_batch.sql
  execute $pgflow_source$
-- pgmq.send_batch(queue_name, msgs [, headers] [, delay]): enqueues several messages and
-- returns their msg_ids, one row per message, in the order of `msgs`. Six overloads, as send.
--
-- Invariants: all messages of a batch share one vt; msg_ids ascend in input order and come back
-- in that order (pgflow matches them to its inputs by position); msgs[i] gets headers[i], and
-- the shorter array is padded with NULLs (NULL headers -> every message has NULL headers).
-- One INSERT per call.

create or replace function pgmq.send_batch(queue_name text, msgs jsonb[])
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message)
     select $1, batch.message
     from unnest($2) with ordinality as batch(message, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp(), msgs;
end;
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  headers jsonb[]
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers)
     select $1, batch.message, batch.headers
     from unnest($2, $3) with ordinality as batch(message, headers, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp(), msgs, headers;
end;
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  delay integer
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message)
     select $1, batch.message
     from unnest($2) with ordinality as batch(message, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp() + make_interval(secs => delay), msgs;
end;
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  delay timestamp with time zone
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message)
     select $1, batch.message
     from unnest($2) with ordinality as batch(message, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using delay, msgs;
end;
$$;

create or replace function pgmq.send_batch(
  queue_name text,
  msgs jsonb[],
  headers jsonb[],
  delay integer
)
returns setof bigint
language plpgsql
set search_path = ''
as $$
begin
  return query execute format(
    'insert into pgmq.%I (vt, message, headers)
     select $1, batch.message, batch.headers
     from unnest($2, $3) with ordinality as batch(message, headers, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using clock_timestamp() + make_interval(secs => delay), msgs, headers;
end;
$$;

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
  return query execute format(
    'insert into pgmq.%I (vt, message, headers)
     select $1, batch.message, batch.headers
     from unnest($2, $3) with ordinality as batch(message, headers, position)
     order by batch.position
     returning msg_id',
    pgmq.format_table_name(queue_name, 'q')
  )
  using delay, msgs, headers;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/send.sql
  execute $pgflow_source$
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
$pgflow_source$;
  -- src/sql/queue/set_vt.sql
  execute $pgflow_source$
-- pgmq.set_vt(queue_name, msg_id, vt): makes a message visible again `vt` seconds from now
-- (0 or a negative value: at once) and returns it; no row when the id does not exist.
--
-- Invariants: vt = clock_timestamp() + vt seconds, whether or not the message is currently
-- visible; read_ct is unchanged.
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
  return query execute format(
    'update pgmq.%I as q
     set vt = clock_timestamp() + make_interval(secs => $2)
     where q.msg_id = $1
     returning q.msg_id, q.read_ct, q.enqueued_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q')
  )
  using msg_id, vt;
end;
$$;
$pgflow_source$;
  -- src/sql/queue/validate_queue_name.sql
  execute $pgflow_source$
-- pgmq.validate_queue_name(queue_name): rejects queue names longer than 47 characters.
--
-- Invariants: the longest object derived from a queue name, the archive index
-- `archived_at_idx_<queue_name>`, stays within PostgreSQL's 63-byte identifier limit, so no
-- derived name is silently truncated. Called by the create* functions only.
create or replace function pgmq.validate_queue_name(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if length(queue_name) > 47 then
    raise exception 'queue name is too long, maximum length is 47 characters'
      using detail = format('The queue name has %s characters.', length(queue_name));
  end if;
end;
$$;
$pgflow_source$;
end;
$pgflow_queue$;

-- src/sql/engine/_storage.sql
-- Storage settings drizzle-kit cannot express. Tasks and runs are updated soon after they are
-- written (a task is started, then completed; a run counts down its steps): free space on each page
-- lets those updates stay on the page (HOT), so they write no new index entries.
alter table pgflow.step_tasks set (fillfactor = 70);
alter table pgflow.runs set (fillfactor = 80);

-- src/sql/engine/_types.sql
-- pgflow.step_task_record: one task handed to a worker by start_tasks, with the input it runs on.
create type pgflow.step_task_record as (
  flow_slug text,
  run_id uuid,
  step_slug text,
  input jsonb,
  msg_id bigint,
  task_index integer
);

-- pgflow.claimed_task: a task handed out by claim_tasks — the fields of step_task_record plus the
-- attempt that start counts (attempts_count), so a worker knows it without a second query.
create type pgflow.claimed_task as (
  flow_slug text,
  run_id uuid,
  step_slug text,
  input jsonb,
  msg_id bigint,
  task_index integer,
  attempts_count integer
);

-- src/sql/engine/cascade_complete_taskless_steps.sql
-- pgflow.cascade_complete_taskless_steps(run_id): completes, wave after wave, the ready steps of the
-- run that have no task to run (initial_tasks = 0), counting them off their dependents and the run.
-- Returns how many steps it completed.
--
-- Single steps always have one task, so with single steps only this completes nothing; it keeps the
-- pgflow 0.8.1 contract for step types whose task count can be zero. The run's row is locked first.
create or replace function pgflow.cascade_complete_taskless_steps(run_id uuid)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_total integer := 0;
  v_slugs text[];
  v_flow text;
begin
  perform 1 from pgflow.runs r where r.run_id = cascade_complete_taskless_steps.run_id for update;
  loop
    with completed as (
      update pgflow.step_states s
      set status = 'completed', started_at = clock_timestamp(), completed_at = clock_timestamp(), remaining_tasks = 0
      where s.run_id = cascade_complete_taskless_steps.run_id
        and s.status = 'created'
        and s.remaining_deps = 0
        and s.initial_tasks = 0
      returning s.step_slug, s.flow_slug
    )
    select array_agg(completed.step_slug), min(completed.flow_slug) into v_slugs, v_flow from completed;
    exit when v_slugs is null;

    update pgflow.step_states s
    set remaining_deps = s.remaining_deps - c.n
    from (
      select d.step_slug, count(*)::integer as n
      from pgflow.deps d
      where d.flow_slug = v_flow and d.dep_slug = any(v_slugs)
      group by d.step_slug
    ) c
    where s.run_id = cascade_complete_taskless_steps.run_id and s.step_slug = c.step_slug;

    update pgflow.runs r
    set remaining_steps = r.remaining_steps - cardinality(v_slugs)
    where r.run_id = cascade_complete_taskless_steps.run_id;

    perform pgflow.emit_events(
      'step:completed',
      array_fill(v_flow, array[cardinality(v_slugs)]),
      array(
        select jsonb_build_object('run_id', cascade_complete_taskless_steps.run_id, 'step_slug', completed.slug,
          'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_slugs) with ordinality as completed(slug, ord)
        order by completed.ord
      )
    );

    v_total := v_total + cardinality(v_slugs);
  end loop;
  return v_total;
end;
$$;

-- src/sql/engine/claim_tasks.sql
-- pgflow.claim_tasks(flow_slug, worker_id, qty): reads up to `qty` visible messages from the flow's
-- queue and starts their tasks in the same transaction — pgmq.read followed by pgflow.start_tasks
-- in one round trip and one commit. Returns the started tasks with their input, as start_tasks does,
-- plus the attempt each start counts (attempts_count), so a worker needs no second query.
--
-- The read hides each message for its step's timeout + 2 s at once, so no second visibility update
-- is needed. Invariants: messages are claimed oldest first with FOR UPDATE SKIP LOCKED, so concurrent
-- callers never receive the same message; read_ct counts every delivery; otherwise those of
-- pgflow.start_tasks. A message whose task cannot start stays hidden for that time.
create or replace function pgflow.claim_tasks(
  flow_slug text,
  worker_id uuid,
  qty integer default 10
)
returns setof pgflow.claimed_task
language plpgsql
set search_path = ''
as $$
declare
  v_timeout integer;
  v_msg_ids bigint[];
begin
  select f.opt_timeout into v_timeout from pgflow.flows f where f.flow_slug = claim_tasks.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', claim_tasks.flow_slug using errcode = '42704';
  end if;

  execute format(
    $sql$
      with claimed as (
        select q.msg_id, coalesce(step.opt_timeout, $2) + 2 as hide_seconds
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

-- src/sql/engine/complete_runs.sql
-- pgflow.complete_runs(run_ids): completes every given run that is `started` and has no step left,
-- storing as its output the outputs of its leaf steps (steps nothing depends on), and announces it.
--
-- Invariants: a run completes once (only `started` runs with remaining_steps = 0 qualify); a flow
-- without steps completes with a NULL output. Callers hold the runs' row locks.
create or replace function pgflow.complete_runs(run_ids uuid[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_runs uuid[];
  v_flows text[];
begin
  with completed as (
    update pgflow.runs r
    set status = 'completed',
        completed_at = clock_timestamp(),
        output = (
          select jsonb_object_agg(t.step_slug, t.output)
          from pgflow.step_tasks t
          where t.run_id = r.run_id
            and t.status = 'completed'
            and not exists (
              select 1 from pgflow.deps d where d.flow_slug = r.flow_slug and d.dep_slug = t.step_slug
            )
        )
    where r.run_id = any(complete_runs.run_ids)
      and r.status = 'started'
      and r.remaining_steps = 0
    returning r.run_id, r.flow_slug
  )
  select array_agg(completed.run_id), array_agg(completed.flow_slug) into v_runs, v_flows from completed;

  if v_runs is not null then
    perform pgflow.emit_events(
      'run:completed',
      v_flows,
      array(
        select jsonb_build_object('run_id', c.run_id, 'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_runs) with ordinality as c(run_id, ord)
        order by c.ord
      )
    );
  end if;
end;
$$;

-- src/sql/engine/complete_task.sql
-- pgflow.complete_task(run_id, step_slug, task_index, output): completes one started task with its
-- output (any JSON value, or NULL) and moves the run forward; returns the completed task.
--
-- The output is stored and the task's message archived. When the step has no task left it completes
-- (step:completed), counts off its run's remaining steps and its dependents' remaining dependencies;
-- dependents left with none start at once; a run with no step left completes (run:completed).
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
set search_path = ''
as $$
declare
  v_flow text;
  v_task pgflow.step_tasks;
  v_step_completed boolean;
  v_remaining_steps integer;
  v_ready text[];
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

    -- Dependents wait for one dependency less; those left with none start now.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - 1,
          status = case when s.remaining_deps = 1 and s.status = 'created' then 'started' else s.status end,
          started_at = case when s.remaining_deps = 1 and s.status = 'created' then clock_timestamp() else s.started_at end,
          remaining_tasks = case when s.remaining_deps = 1 and s.status = 'created' then s.initial_tasks else s.remaining_tasks end
      from pgflow.deps d
      where d.flow_slug = v_flow
        and d.dep_slug = complete_task.step_slug
        and s.run_id = complete_task.run_id
        and s.step_slug = d.step_slug
      returning s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.step_slug) into v_ready
    from waiting
    where waiting.remaining_deps = 0 and waiting.status = 'started';

    if v_ready is not null then
      perform pgflow.queue_step_tasks(
        array_fill(v_flow, array[cardinality(v_ready)]),
        array_fill(complete_task.run_id, array[cardinality(v_ready)]),
        v_ready
      );
    end if;
    if v_remaining_steps = 0 then
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
-- done completes (step:completed), counts off its run's remaining steps and its dependents' remaining
-- dependencies; dependents left with none start at once; runs with no step left complete.
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

    -- Dependents wait for one dependency less; those left with none start now.
    with waiting as (
      update pgflow.step_states s
      set remaining_deps = s.remaining_deps - c.n,
          status = case when s.remaining_deps = c.n and s.status = 'created' then 'started' else s.status end,
          started_at = case when s.remaining_deps = c.n and s.status = 'created' then clock_timestamp() else s.started_at end,
          remaining_tasks = case when s.remaining_deps = c.n and s.status = 'created' then s.initial_tasks else s.remaining_tasks end
      from (
        select c.run_id, d.step_slug, count(*)::integer as n
        from unnest(v_step_runs, v_step_slugs, v_step_flows) as c(run_id, step_slug, flow_slug)
        join pgflow.deps d on d.flow_slug = c.flow_slug and d.dep_slug = c.step_slug
        group by c.run_id, d.step_slug
      ) c
      where s.run_id = c.run_id and s.step_slug = c.step_slug
      returning s.flow_slug, s.run_id, s.step_slug, s.remaining_deps, s.status
    )
    select array_agg(waiting.flow_slug), array_agg(waiting.run_id), array_agg(waiting.step_slug)
    into v_ready_flows, v_ready_runs, v_ready_slugs
    from waiting
    where waiting.remaining_deps = 0 and waiting.status = 'started';

    if v_ready_runs is not null then
      perform pgflow.queue_step_tasks(v_ready_flows, v_ready_runs, v_ready_slugs);
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
-- same options changes nothing. The flow's queue is named after the flow, so the slug obeys the queue
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
  end if;

  return v_flow;
end;
$$;

-- src/sql/engine/emit_event.sql
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

-- src/sql/engine/emit_events.sql
-- pgflow.emit_events(event_type, flow_slugs, payloads): publishes one event per element, in array
-- order, with pgflow.emit_event (element i: flow_slugs[i], payloads[i]).
create or replace function pgflow.emit_events(event_type text, flow_slugs text[], payloads jsonb[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform pgflow.emit_event(emit_events.event_type, ev.flow_slug, ev.payload)
  from unnest(emit_events.flow_slugs, emit_events.payloads) with ordinality as ev(flow_slug, payload, ord)
  order by ev.ord;
end;
$$;

-- src/sql/engine/fail_run.sql
-- pgflow.fail_run(run_id, step_slug, error_message): fails a run because the task of `step_slug`
-- failed for good (the caller has already marked that task `failed`).
--
-- Invariants: afterwards nothing of the run is queued or started and none of its messages is left in
-- the queue. The failing step and every step with a queued or started task become `failed`; those
-- other tasks and steps record which step failed the run. Steps that never started stay `created`.
-- Events: step:failed for the failing step, then for the others, then run:failed. Callers hold the
-- run's row lock.
create or replace function pgflow.fail_run(run_id uuid, step_slug text, error_message text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_flow text;
  v_reason text := format('run failed because step "%s" failed', fail_run.step_slug);
  v_other_steps text[];
  v_messages bigint[];
begin
  update pgflow.runs r
  set status = 'failed', failed_at = clock_timestamp()
  where r.run_id = fail_run.run_id and r.status = 'started'
  returning r.flow_slug into v_flow;
  if v_flow is null then
    return;
  end if;

  update pgflow.step_states s
  set status = 'failed', failed_at = clock_timestamp(), error_message = fail_run.error_message
  where s.run_id = fail_run.run_id and s.step_slug = fail_run.step_slug;

  with cancelled as (
    update pgflow.step_tasks t
    set status = 'failed', failed_at = clock_timestamp(), error_message = v_reason
    where t.run_id = fail_run.run_id and t.status in ('queued', 'started')
    returning t.step_slug
  )
  select array_agg(distinct cancelled.step_slug) into v_other_steps from cancelled;

  with cancelled as (
    update pgflow.step_states s
    set status = 'failed', failed_at = clock_timestamp(), error_message = v_reason
    where s.run_id = fail_run.run_id and s.step_slug = any(v_other_steps) and s.status = 'started'
    returning s.step_slug
  )
  select array_agg(cancelled.step_slug order by cancelled.step_slug) into v_other_steps from cancelled;

  v_messages := array(
    select t.message_id from pgflow.step_tasks t
    where t.run_id = fail_run.run_id and t.status = 'failed' and t.message_id is not null
  );
  if cardinality(v_messages) > 0 then
    perform pgmq.archive(v_flow, v_messages);
  end if;

  perform pgflow.emit_event(
    'step:failed',
    v_flow,
    jsonb_build_object('run_id', fail_run.run_id, 'step_slug', fail_run.step_slug, 'status', 'failed',
      'error_message', fail_run.error_message, 'failed_at', clock_timestamp())
  );
  if v_other_steps is not null then
    perform pgflow.emit_events(
      'step:failed',
      array_fill(v_flow, array[cardinality(v_other_steps)]),
      array(
        select jsonb_build_object('run_id', fail_run.run_id, 'step_slug', other.slug, 'status', 'failed',
          'error_message', v_reason, 'failed_at', clock_timestamp())
        from unnest(v_other_steps) with ordinality as other(slug, ord)
        order by other.ord
      )
    );
  end if;
  perform pgflow.emit_event(
    'run:failed',
    v_flow,
    jsonb_build_object('run_id', fail_run.run_id, 'status', 'failed', 'failed_step_slug', fail_run.step_slug,
      'error_message', fail_run.error_message, 'failed_at', clock_timestamp())
  );
end;
$$;

-- src/sql/engine/fail_task.sql
-- pgflow.fail_task(run_id, step_slug, task_index, error_message): records a failed attempt of a
-- started task; returns the task.
--
-- With attempts left the task returns to `queued` and its message becomes visible again after
-- calculate_retry_delay(base_delay, attempts_count - 1) seconds (base_delay, then doubling). The last
-- allowed attempt fails the task and then the whole run (see pgflow.fail_run). Per-step options
-- override the flow's. Invariants: the run's row is locked first; a task that is not `started`, or
-- whose run has failed, is left alone and no row is returned; a task that does not exist is an error.
create or replace function pgflow.fail_task(
  run_id uuid,
  step_slug text,
  task_index integer,
  error_message text
)
returns setof pgflow.step_tasks
language plpgsql
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

  select coalesce(s.opt_max_attempts, f.opt_max_attempts), coalesce(s.opt_base_delay, f.opt_base_delay)
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
    perform pgflow.fail_run(v_task.run_id, v_task.step_slug, v_task.error_message);
  end if;

  return next v_task;
end;
$$;

-- src/sql/engine/heartbeat_worker.sql
-- pgflow.heartbeat_worker(worker_id): records that the worker is alive (last_heartbeat_at).
-- Unknown workers are an error, so a worker whose row was removed learns it must register again.
create or replace function pgflow.heartbeat_worker(worker_id uuid)
returns void
language plpgsql
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

-- src/sql/engine/maybe_complete_run.sql
-- pgflow.maybe_complete_run(run_id): completes the run if none of its steps is left.
--
-- Invariants: see pgflow.complete_runs; the run's row is locked first.
create or replace function pgflow.maybe_complete_run(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from pgflow.runs r where r.run_id = maybe_complete_run.run_id for update;
  perform pgflow.complete_runs(array[maybe_complete_run.run_id]);
end;
$$;

-- src/sql/engine/poll_for_tasks.sql
-- pgflow.poll_for_tasks(queue_name, vt, qty, max_poll_seconds, poll_interval_ms): deprecated; reads
-- messages with pgmq.read_with_poll and starts their tasks (no worker is recorded). Kept so that older
-- workers keep working; new workers use pgmq.read with pgflow.start_tasks, or pgflow.claim_tasks.
create or replace function pgflow.poll_for_tasks(
  queue_name text,
  vt integer,
  qty integer,
  max_poll_seconds integer default 5,
  poll_interval_ms integer default 100
)
returns setof pgflow.step_task_record
language plpgsql
set search_path = ''
as $$
declare
  v_msg_ids bigint[];
begin
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
  return query select * from pgflow.start_tasks(poll_for_tasks.queue_name, v_msg_ids, null);
end;
$$;

-- src/sql/engine/queue_step_tasks.sql
-- pgflow.queue_step_tasks(flow_slugs, run_ids, step_slugs): creates the task (task_index 0) of each
-- given step, which the caller has just marked `started`, together with its queue message
-- {flow_slug, run_id, step_slug, task_index}, visible after the step's opt_start_delay seconds.
--
-- Invariants: a task and its message are created by the same statement, one message per task, so
-- neither exists without the other. Callers hold the runs' row locks.
create or replace function pgflow.queue_step_tasks(flow_slugs text[], run_ids uuid[], step_slugs text[])
returns void
language plpgsql
set search_path = ''
as $$
begin
  insert into pgflow.step_tasks (flow_slug, run_id, step_slug, task_index, message_id)
  select t.flow_slug, t.run_id, t.step_slug, 0,
    (
      select pgmq.send(
        t.flow_slug,
        jsonb_build_object('flow_slug', t.flow_slug, 'run_id', t.run_id, 'step_slug', t.step_slug, 'task_index', 0),
        coalesce(step.opt_start_delay, 0)
      )
    )
  from unnest(queue_step_tasks.flow_slugs, queue_step_tasks.run_ids, queue_step_tasks.step_slugs)
      with ordinality as t(flow_slug, run_id, step_slug, ord)
  join pgflow.steps step on step.flow_slug = t.flow_slug and step.step_slug = t.step_slug
  order by t.ord;
end;
$$;

-- src/sql/engine/set_vt_batch.sql
-- pgflow.set_vt_batch(queue_name, msg_ids, vt_offsets): makes each message msg_ids[i] of the queue
-- invisible for vt_offsets[i] more seconds, in one statement; returns the updated messages.
--
-- Invariants: works on the queue table layout shared by the pgmq extension and the built-in queue;
-- read_ct is untouched; arrays of different lengths are an error.
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
set search_path = ''
as $$
begin
  if set_vt_batch.msg_ids is null or set_vt_batch.vt_offsets is null or cardinality(set_vt_batch.msg_ids) = 0 then
    return;
  end if;
  if cardinality(set_vt_batch.msg_ids) <> cardinality(set_vt_batch.vt_offsets) then
    raise exception 'msg_ids length (%) must equal vt_offsets length (%)',
      cardinality(set_vt_batch.msg_ids), cardinality(set_vt_batch.vt_offsets)
      using errcode = '22023';
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
-- pgflow.start_flow_with_states(flow_slug, input, run_id): starts a run like pgflow.start_flow and
-- returns it as pgflow.get_run_with_states does: {"run": {...}, "steps": [...]}.
--
-- The state is read in a statement of its own, after the run is created, so it sees the new rows.
create or replace function pgflow.start_flow_with_states(
  flow_slug text,
  input jsonb,
  run_id uuid default null
)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_run_id uuid;
begin
  select started.run_id into v_run_id
  from pgflow.start_flow(start_flow_with_states.flow_slug, start_flow_with_states.input, start_flow_with_states.run_id) as started;
  return pgflow.get_run_with_states(v_run_id);
end;
$$;

-- src/sql/engine/start_flow.sql
-- pgflow.start_flow(flow_slug, input, run_id): starts a run of the flow with `input` (a JSON object)
-- and returns the run. `run_id` lets the caller choose the run's id.
--
-- Creates the run (remaining_steps = the flow's step count) and a state per step waiting for its
-- dependencies; steps without dependencies start at once and their tasks are queued. A flow without
-- steps completes immediately. Events: run:started (then run:completed for an empty flow).
-- Invariants: everything happens in one transaction, so a failed start leaves nothing behind.
create or replace function pgflow.start_flow(
  flow_slug text,
  input jsonb,
  run_id uuid default null
)
returns setof pgflow.runs
language plpgsql
set search_path = ''
as $$
declare
  v_run pgflow.runs;
begin
  if not exists (select 1 from pgflow.flows f where f.flow_slug = start_flow.flow_slug) then
    raise exception 'flow "%" does not exist', start_flow.flow_slug
      using errcode = '42704', hint = 'Create it with pgflow.create_flow() and pgflow.add_step().';
  end if;
  if start_flow.input is null or jsonb_typeof(start_flow.input) <> 'object' then
    raise exception 'the input of a run must be a JSON object, got %', coalesce(jsonb_typeof(start_flow.input), 'NULL')
      using errcode = '22023';
  end if;
  if start_flow.run_id is not null
    and exists (select 1 from pgflow.runs r where r.run_id = start_flow.run_id) then
    raise exception 'run % already exists', start_flow.run_id using errcode = '23505';
  end if;

  insert into pgflow.runs (run_id, flow_slug, input, remaining_steps)
  values (
    coalesce(start_flow.run_id, pgflow.uuid_v7()),
    start_flow.flow_slug,
    start_flow.input,
    (select count(*) from pgflow.steps s where s.flow_slug = start_flow.flow_slug)
  )
  returning * into v_run;

  -- Steps without dependencies start at once; the others wait for them.
  insert into pgflow.step_states (flow_slug, run_id, step_slug, remaining_deps, initial_tasks, status, started_at, remaining_tasks)
  select s.flow_slug, v_run.run_id, s.step_slug, s.deps_count, 1,
    case when s.deps_count = 0 then 'started' else 'created' end,
    case when s.deps_count = 0 then now() end,
    case when s.deps_count = 0 then 1 end
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug;

  perform pgflow.emit_event(
    'run:started',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'remaining_steps', v_run.remaining_steps,
      'started_at', v_run.started_at)
  );

  perform pgflow.queue_step_tasks(array_agg(s.flow_slug), array_agg(v_run.run_id), array_agg(s.step_slug))
  from pgflow.steps s
  where s.flow_slug = start_flow.flow_slug and s.deps_count = 0;

  if v_run.remaining_steps = 0 then
    perform pgflow.complete_runs(array[v_run.run_id]);
  end if;

  return query select r.* from pgflow.runs r where r.run_id = v_run.run_id;
end;
$$;

-- src/sql/engine/start_ready_steps.sql
-- pgflow.start_ready_steps(run_id): starts every step of the run that waits for no dependency.
--
-- Invariants: see pgflow.start_steps; the run's row is locked first, and nothing starts in a run
-- that has failed or completed.
create or replace function pgflow.start_ready_steps(run_id uuid)
returns void
language plpgsql
set search_path = ''
as $$
begin
  perform 1 from pgflow.runs r where r.run_id = start_ready_steps.run_id for update;
  perform pgflow.start_steps(array_agg(s.run_id), array_agg(s.step_slug))
  from pgflow.step_states s
  where s.run_id = start_ready_steps.run_id
    and s.status = 'created'
    and s.remaining_deps = 0;
end;
$$;

-- src/sql/engine/start_steps.sql
-- pgflow.start_steps(run_ids, step_slugs): starts the given steps, pairing run_ids[i] with
-- step_slugs[i]: each becomes `started` and its task is queued (see pgflow.queue_step_tasks).
-- Returns how many steps it started.
--
-- Invariants: only steps that are still `created`, wait for no dependency and belong to a `started`
-- run are touched, so a step is never started twice. Callers hold the runs' row locks.
create or replace function pgflow.start_steps(run_ids uuid[], step_slugs text[])
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_flows text[];
  v_runs uuid[];
  v_steps text[];
begin
  with started as (
    update pgflow.step_states s
    set status = 'started',
        started_at = clock_timestamp(),
        remaining_tasks = s.initial_tasks
    from unnest(start_steps.run_ids, start_steps.step_slugs) as ready(run_id, step_slug),
      pgflow.runs r
    where s.run_id = ready.run_id
      and s.step_slug = ready.step_slug
      and s.status = 'created'
      and s.remaining_deps = 0
      and r.run_id = s.run_id
      and r.status = 'started'
    returning s.flow_slug, s.run_id, s.step_slug
  )
  select array_agg(started.flow_slug), array_agg(started.run_id), array_agg(started.step_slug)
  into v_flows, v_runs, v_steps
  from started;

  if v_runs is null then
    return 0;
  end if;
  perform pgflow.queue_step_tasks(v_flows, v_runs, v_steps);
  return cardinality(v_runs);
end;
$$;

-- src/sql/engine/start_tasks_from_messages.sql
-- pgflow.start_tasks_from_messages(flow_slug, msg_ids, worker_id, move_visibility): the work of
-- pgflow.start_tasks and pgflow.claim_tasks. Starts the tasks behind messages read from the flow's
-- queue and returns them with their input: {"run": <run input>, <dep>: <output>} for each direct
-- dependency, and the attempt each start counts. `move_visibility` = false when the caller has
-- already hidden the messages for the right time (claim_tasks reads them that way).
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent: the clock is
-- past started_at + timeout + 2 s. Each start counts an attempt, records the worker (registering an
-- unknown worker id) and hides the message until timeout + 2 s from now, so a dead worker's task
-- comes back once and only once that time has passed. A silent task with no attempt left fails the
-- run instead. Messages of tasks still running get their visibility pushed to the task's deadline.
-- Invariants: tasks of failed runs never start; a task is started by one caller at a time (rows
-- locked with SKIP LOCKED); the run's row lock is taken before failing a task, without waiting.
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
  v_expired record;
  v_error text;
  v_started pgflow.claimed_task[];
  v_started_messages bigint[];
  v_hide_seconds integer[];
  v_first_starts text[];
  v_first_runs uuid[];
begin
  select f.* into v_flow from pgflow.flows f where f.flow_slug = start_tasks_from_messages.flow_slug;
  if not found then
    raise exception 'flow "%" does not exist', start_tasks_from_messages.flow_slug using errcode = '42704';
  end if;
  if coalesce(cardinality(start_tasks_from_messages.msg_ids), 0) = 0 then
    return;
  end if;

  if start_tasks_from_messages.worker_id is not null
    and not exists (select 1 from pgflow.workers w where w.worker_id = start_tasks_from_messages.worker_id) then
    insert into pgflow.workers (worker_id, queue_name, function_name)
    values (start_tasks_from_messages.worker_id, start_tasks_from_messages.flow_slug, 'unregistered')
    on conflict on constraint workers_pkey do nothing;
  end if;

  for v_expired in
    select t.run_id, t.step_slug, t.task_index, t.attempts_count,
      coalesce(s.opt_max_attempts, v_flow.opt_max_attempts) as max_attempts,
      coalesce(s.opt_timeout, v_flow.opt_timeout) as timeout
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    where t.flow_slug = start_tasks_from_messages.flow_slug
      and t.message_id = any(start_tasks_from_messages.msg_ids)
      and t.status = 'started'
      and t.attempts_count >= coalesce(s.opt_max_attempts, v_flow.opt_max_attempts)
      and clock_timestamp() >= t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout) + 2)
  loop
    perform 1 from pgflow.runs r where r.run_id = v_expired.run_id and r.status = 'started' for update skip locked;
    continue when not found;
    v_error := format('timed out: attempt %s of %s did not finish within %s s (timeout + 2 s)',
      v_expired.attempts_count, v_expired.max_attempts, v_expired.timeout + 2);
    update pgflow.step_tasks t
    set status = 'failed', failed_at = clock_timestamp(), error_message = v_error
    where t.run_id = v_expired.run_id
      and t.step_slug = v_expired.step_slug
      and t.task_index = v_expired.task_index
      and t.status = 'started';
    if found then
      perform pgflow.fail_run(v_expired.run_id, v_expired.step_slug, v_error);
    end if;
  end loop;

  with candidates as (
    select t.run_id, t.step_slug, t.task_index, coalesce(s.opt_timeout, v_flow.opt_timeout) as timeout
    from pgflow.step_tasks t
    join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
    where t.flow_slug = start_tasks_from_messages.flow_slug
      and t.message_id = any(start_tasks_from_messages.msg_ids)
      -- scalar subqueries keep every lookup on a primary key, whatever the table statistics say
      and (select r.status from pgflow.runs r where r.run_id = t.run_id) = 'started'
      and (
        t.status = 'queued'
        or (
          t.status = 'started'
          and t.attempts_count < coalesce(s.opt_max_attempts, v_flow.opt_max_attempts)
          and clock_timestamp() >= t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout) + 2)
        )
      )
    for update of t skip locked
  ),
  started as (
    update pgflow.step_tasks t
    set status = 'started',
        started_at = clock_timestamp(),
        attempts_count = t.attempts_count + 1,
        last_worker_id = start_tasks_from_messages.worker_id
    from candidates c
    where t.run_id = c.run_id
      and t.step_slug = c.step_slug
      and t.task_index = c.task_index
    returning c.timeout, row(
      t.flow_slug,
      t.run_id,
      t.step_slug,
      jsonb_build_object('run', (select r.input from pgflow.runs r where r.run_id = t.run_id)) || coalesce((
        select jsonb_object_agg(
          d.dep_slug,
          (
            select dep_task.output
            from pgflow.step_tasks dep_task
            where dep_task.run_id = t.run_id and dep_task.step_slug = d.dep_slug and dep_task.task_index = 0
          )
        )
        from pgflow.deps d
        where d.flow_slug = t.flow_slug and d.step_slug = t.step_slug
      ), '{}'::jsonb),
      t.message_id,
      t.task_index,
      t.attempts_count
    )::pgflow.claimed_task as task
  )
  select array_agg(started.task order by (started.task).msg_id),
    array_agg((started.task).msg_id),
    array_agg(started.timeout + 2),
    array_agg((started.task).step_slug) filter (where (started.task).attempts_count = 1),
    array_agg((started.task).run_id) filter (where (started.task).attempts_count = 1)
  into v_started, v_started_messages, v_hide_seconds, v_first_starts, v_first_runs
  from started;

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
        array_agg(greatest(1, ceil(extract(epoch from
          t.started_at + make_interval(secs => coalesce(s.opt_timeout, v_flow.opt_timeout) + 2) - clock_timestamp()
        )))::integer)
      )
      from pgflow.step_tasks t
      join pgflow.steps s on s.flow_slug = t.flow_slug and s.step_slug = t.step_slug
      where t.flow_slug = start_tasks_from_messages.flow_slug
        and t.message_id = any(start_tasks_from_messages.msg_ids)
        and t.message_id <> all(coalesce(v_started_messages, '{}'))
        and t.status = 'started';
    end if;
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

-- src/sql/engine/stop_worker.sql
-- pgflow.stop_worker(worker_id): records that the worker has shut down (stopped_at).
-- Stopping a stopped worker keeps the first stop time; unknown workers are an error.
create or replace function pgflow.stop_worker(worker_id uuid)
returns void
language plpgsql
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

-- src/sql/engine/add_step.sql
-- pgflow.add_step(...): adds a step to a flow, after the steps it depends on.
--
-- Two overloads serve every call form: the main one takes dependencies and named options
-- (max_attempts, base_delay, timeout, start_delay, step_type); the second takes the three options
-- positionally for a step without dependencies (`add_step('f', 's', 7, 2, 30)`). Its parameters carry
-- other names, so named calls always resolve to the main signature.
--
-- Invariants: dependencies must already exist, so the steps always form a DAG; the flow row is locked
-- so concurrent calls number steps without gaps or clashes; adding an existing step again is a no-op
-- (options passed are updated), while changing its dependencies is refused. Errors leave nothing behind.
create or replace function pgflow.add_step(
  flow_slug text,
  step_slug text,
  deps_slugs text[] default '{}',
  max_attempts integer default null,
  base_delay integer default null,
  timeout integer default null,
  start_delay integer default null,
  step_type text default 'single'
)
returns pgflow.steps
language plpgsql
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
  if coalesce(add_step.step_type, 'single') = 'map' then
    raise exception 'map steps are not supported yet (step "%" of flow "%")', add_step.step_slug, add_step.flow_slug
      using errcode = '0A000', hint = 'Use step_type ''single''.';
  end if;
  if coalesce(add_step.step_type, 'single') <> 'single' then
    raise exception 'invalid step_type "%" for step "%": expected ''single''', add_step.step_type, add_step.step_slug
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
    update pgflow.steps s
    set opt_max_attempts = coalesce(add_step.max_attempts, s.opt_max_attempts),
        opt_base_delay = coalesce(add_step.base_delay, s.opt_base_delay),
        opt_timeout = coalesce(add_step.timeout, s.opt_timeout),
        opt_start_delay = coalesce(add_step.start_delay, s.opt_start_delay)
    where s.flow_slug = add_step.flow_slug
      and s.step_slug = add_step.step_slug
      and (s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay) is distinct from (
        coalesce(add_step.max_attempts, s.opt_max_attempts),
        coalesce(add_step.base_delay, s.opt_base_delay),
        coalesce(add_step.timeout, s.opt_timeout),
        coalesce(add_step.start_delay, s.opt_start_delay)
      )
    returning s.* into v_step;
    if v_step.step_slug is null then
      select s.* into v_step from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = add_step.step_slug;
    end if;
    return v_step;
  end if;

  insert into pgflow.steps (
    flow_slug, step_slug, step_type, step_index, deps_count,
    opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay
  )
  values (
    add_step.flow_slug,
    add_step.step_slug,
    'single',
    (select coalesce(max(s.step_index) + 1, 0) from pgflow.steps s where s.flow_slug = add_step.flow_slug),
    cardinality(v_deps),
    add_step.max_attempts,
    add_step.base_delay,
    add_step.timeout,
    add_step.start_delay
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
-- first retry waits base_delay. The result is capped at the largest integer instead of overflowing.
create or replace function pgflow.calculate_retry_delay(base_delay numeric, attempts_count integer)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select least(
    floor(base_delay * power(2::numeric, least(attempts_count, 1000)::numeric)),
    2147483647
  )::integer;
$$;

-- src/sql/engine/get_run_with_states.sql
-- pgflow.get_run_with_states(run_id): the run and the states of its steps as one JSON document,
-- {"run": {...}, "steps": [{...}, ...]} with steps in definition order; NULL when the run does not exist.
create or replace function pgflow.get_run_with_states(run_id uuid)
returns jsonb
language sql
stable
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

-- src/sql/engine/is_valid_slug.sql
-- pgflow.is_valid_slug(slug): whether `slug` may name a flow or a step.
--
-- A slug is 1 to 128 characters, starts with a letter or underscore, continues with letters,
-- digits and underscores, and is not `run` (the key that carries the run input in step inputs).
create or replace function pgflow.is_valid_slug(slug text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select slug is not null
    and length(slug) between 1 and 128
    and slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$'
    and slug <> 'run';
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

-- src/sql/engine/start_tasks.sql
-- pgflow.start_tasks(flow_slug, msg_ids, worker_id): starts the tasks behind messages a worker has
-- read from the flow's queue (pgmq.read) and returns them with their input: {"run": <run input>,
-- <dep>: <output>} for each direct dependency.
--
-- A task starts when it is `queued`, or when it is `started` but its worker went silent (the clock is past
-- started_at + timeout + 2 s). Each start counts an attempt, records the worker and hides the message
-- until timeout + 2 s from now. See pgflow.start_tasks_from_messages for the details and invariants.
create or replace function pgflow.start_tasks(
  flow_slug text,
  msg_ids bigint[],
  worker_id uuid
)
returns setof pgflow.step_task_record
language sql
set search_path = ''
as $$
  select started.flow_slug, started.run_id, started.step_slug, started.input, started.msg_id, started.task_index
  from pgflow.start_tasks_from_messages($1, $2, $3, true) as started;
$$;

-- src/sql/engine/uuid_v7.sql
-- pgflow.uuid_v7(): a new time-ordered UUID (version 7: 48-bit Unix milliseconds, then random bits).
--
-- Run ids come from here, so new runs, their step states and their tasks land at the end of their
-- primary-key indexes instead of at random pages: inserts stay cheap however many runs the tables hold.
create or replace function pgflow.uuid_v7()
returns uuid
language sql
volatile
parallel safe
set search_path = ''
as $$
  select encode(
    set_bit(
      set_bit(
        overlay(
          uuid_send(gen_random_uuid())
          placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
          from 1 for 6
        ),
        52, 1
      ),
      53, 1
    ),
    'hex'
  )::uuid;
$$;

-- pgflow.version(): the pgflow-orm release installed in this database; each release redefines it.
create or replace function pgflow.version()
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select '0.1.0'::text;
$$;

insert into "drizzle"."__pgflow_migrations" (hash, created_at) values ('da41288295bf94fc0b884c1a683d582fd83af04ac06463c530f23f04258c82bf', 1795307087276);

commit;
