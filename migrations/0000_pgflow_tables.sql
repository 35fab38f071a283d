CREATE SCHEMA "pgflow";
--> statement-breakpoint
CREATE TABLE "pgflow"."deps" (
	"flow_slug" text NOT NULL,
	"dep_slug" text NOT NULL,
	"step_slug" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deps_pkey" PRIMARY KEY("flow_slug","dep_slug","step_slug"),
	CONSTRAINT "deps_check" CHECK ("pgflow"."deps"."dep_slug" <> "pgflow"."deps"."step_slug")
);
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
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
--> statement-breakpoint
ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_dep_slug_fkey" FOREIGN KEY ("flow_slug","dep_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."deps" ADD CONSTRAINT "deps_flow_slug_step_slug_fkey" FOREIGN KEY ("flow_slug","step_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "runs_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "pgflow"."runs"("run_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "step_states_flow_slug_step_slug_fkey" FOREIGN KEY ("flow_slug","step_slug") REFERENCES "pgflow"."steps"("flow_slug","step_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_run_id_fkey" FOREIGN KEY ("run_id") REFERENCES "pgflow"."runs"("run_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_run_id_step_slug_fkey" FOREIGN KEY ("run_id","step_slug") REFERENCES "pgflow"."step_states"("run_id","step_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "step_tasks_last_worker_id_fkey" FOREIGN KEY ("last_worker_id") REFERENCES "pgflow"."workers"("worker_id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "steps_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_deps_by_flow_dep" ON "pgflow"."deps" USING btree ("flow_slug","dep_slug");--> statement-breakpoint
CREATE INDEX "idx_deps_by_flow_step" ON "pgflow"."deps" USING btree ("flow_slug","step_slug");--> statement-breakpoint
CREATE INDEX "idx_runs_flow_slug" ON "pgflow"."runs" USING btree ("flow_slug");--> statement-breakpoint
CREATE INDEX "idx_runs_status" ON "pgflow"."runs" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_step_states_flow_slug" ON "pgflow"."step_states" USING btree ("flow_slug");--> statement-breakpoint
CREATE INDEX "idx_step_states_ready" ON "pgflow"."step_states" USING btree ("run_id","status","remaining_deps") WHERE "pgflow"."step_states"."status" = 'created' and "pgflow"."step_states"."remaining_deps" = 0;--> statement-breakpoint
CREATE INDEX "idx_step_tasks_message_id" ON "pgflow"."step_tasks" USING btree ("message_id");--> statement-breakpoint
CREATE INDEX "idx_step_tasks_flow_slug" ON "pgflow"."step_tasks" USING btree ("flow_slug");--> statement-breakpoint
CREATE INDEX "idx_workers_queue_name" ON "pgflow"."workers" USING btree ("queue_name");--> statement-breakpoint
CREATE INDEX "idx_workers_heartbeat" ON "pgflow"."workers" USING btree ("last_heartbeat_at");