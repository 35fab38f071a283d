ALTER TABLE "pgflow"."step_states" DROP CONSTRAINT "status_is_valid";--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD COLUMN "skipped_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD COLUMN "skip_reason" text;--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD COLUMN "required_input_pattern" jsonb;--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD COLUMN "forbidden_input_pattern" jsonb;--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD COLUMN "when_unmet" text DEFAULT 'skip' NOT NULL;--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD COLUMN "when_exhausted" text DEFAULT 'fail' NOT NULL;--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "skipped_at_matches_status" CHECK (("pgflow"."step_states"."status" = 'skipped') = ("pgflow"."step_states"."skipped_at" is not null));--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "skip_reason_matches_status" CHECK (("pgflow"."step_states"."status" = 'skipped') = ("pgflow"."step_states"."skip_reason" is not null));--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "skip_reason_is_valid" CHECK ("pgflow"."step_states"."skip_reason" is null or "pgflow"."step_states"."skip_reason" in ('condition_unmet', 'handler_failed', 'dependency_skipped'));--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "skipped_at_is_after_created_at" CHECK ("pgflow"."step_states"."skipped_at" is null or "pgflow"."step_states"."skipped_at" >= "pgflow"."step_states"."created_at");--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed', 'skipped'));--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "required_input_pattern_is_object" CHECK ("pgflow"."steps"."required_input_pattern" is null or jsonb_typeof("pgflow"."steps"."required_input_pattern") = 'object');--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "forbidden_input_pattern_is_object" CHECK ("pgflow"."steps"."forbidden_input_pattern" is null or jsonb_typeof("pgflow"."steps"."forbidden_input_pattern") = 'object');--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "when_unmet_is_valid" CHECK ("pgflow"."steps"."when_unmet" in ('fail', 'skip', 'skip-cascade'));--> statement-breakpoint
ALTER TABLE "pgflow"."steps" ADD CONSTRAINT "when_exhausted_is_valid" CHECK ("pgflow"."steps"."when_exhausted" in ('fail', 'skip', 'skip-cascade'));