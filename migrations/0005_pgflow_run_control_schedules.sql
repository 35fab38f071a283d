CREATE TABLE "pgflow"."role_access" (
	"role_name" text NOT NULL,
	"access" text NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "role_access_pkey" PRIMARY KEY("role_name","access"),
	CONSTRAINT "access_is_valid" CHECK ("pgflow"."role_access"."access" in ('worker', 'client', 'reader', 'admin'))
);
--> statement-breakpoint
CREATE TABLE "pgflow"."schedule_ticks" (
	"flow_slug" text NOT NULL,
	"schedule_name" text NOT NULL,
	"tick" timestamp with time zone NOT NULL,
	"run_id" uuid NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedule_ticks_pkey" PRIMARY KEY("flow_slug","schedule_name","tick")
);
--> statement-breakpoint
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
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_is_valid";--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_matches_timestamps";--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP CONSTRAINT "status_is_valid";--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" DROP CONSTRAINT "valid_status";--> statement-breakpoint
ALTER TABLE "pgflow"."flows" ADD COLUMN "paused_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD COLUMN "cancel_reason" text;--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD COLUMN "cancelled_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pgflow"."schedule_ticks" ADD CONSTRAINT "schedule_ticks_schedule_fkey" FOREIGN KEY ("flow_slug","schedule_name") REFERENCES "pgflow"."schedules"("flow_slug","schedule_name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."schedules" ADD CONSTRAINT "schedules_flow_slug_fkey" FOREIGN KEY ("flow_slug") REFERENCES "pgflow"."flows"("flow_slug") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "cancelled_at_is_after_started_at" CHECK ("pgflow"."runs"."cancelled_at" is null or "pgflow"."runs"."cancelled_at" >= "pgflow"."runs"."started_at");--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."runs"."status" in ('started', 'completed', 'failed', 'cancelled'));--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_matches_timestamps" CHECK (("pgflow"."runs"."status" = 'started' and "pgflow"."runs"."completed_at" is null and "pgflow"."runs"."failed_at" is null and "pgflow"."runs"."cancelled_at" is null)
        or ("pgflow"."runs"."status" = 'completed' and "pgflow"."runs"."completed_at" is not null)
        or ("pgflow"."runs"."status" = 'failed' and "pgflow"."runs"."failed_at" is not null)
        or ("pgflow"."runs"."status" = 'cancelled' and "pgflow"."runs"."cancelled_at" is not null));--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "cancelled_at_matches_status" CHECK (("pgflow"."step_states"."status" = 'cancelled') = ("pgflow"."step_states"."cancelled_at" is not null));--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed', 'skipped', 'cancelled'));--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "cancelled_at_matches_status" CHECK (("pgflow"."step_tasks"."status" = 'cancelled') = ("pgflow"."step_tasks"."cancelled_at" is not null));--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "valid_status" CHECK ("pgflow"."step_tasks"."status" in ('queued', 'started', 'completed', 'failed', 'cancelled'));