-- Reverts 0005_pgflow_run_control_schedules: removes schedules, pauses, idempotency keys and the
-- `cancelled` status of runs, steps and tasks. pgflow-orm 0.3.0 cannot represent a cancelled run, so
-- this refuses, changing nothing, while the database holds one; schedules and pauses are dropped.
do $$
declare
  v_cancelled bigint := (select count(*) from pgflow.runs r where r.status = 'cancelled')
    + (select count(*) from pgflow.step_states s where s.status = 'cancelled')
    + (select count(*) from pgflow.step_tasks t where t.status = 'cancelled');
begin
  if v_cancelled > 0 then
    raise exception 'cannot revert 0005_pgflow_run_control_schedules: % cancelled run(s), step state(s) or task(s) remain, which pgflow-orm 0.3.0 cannot represent',
      v_cancelled
      using hint = 'Delete the cancelled runs (pgflow.prune with a small interval, say) first, then migrate down again.';
  end if;
end
$$;
--> statement-breakpoint
DROP TABLE "pgflow"."schedule_ticks";
--> statement-breakpoint
DROP TABLE "pgflow"."schedules";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_is_valid";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP CONSTRAINT "status_matches_timestamps";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP CONSTRAINT "status_is_valid";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" DROP CONSTRAINT "valid_status";
--> statement-breakpoint
ALTER TABLE "pgflow"."flows" DROP COLUMN "paused_at";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP COLUMN "cancelled_at";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP COLUMN "cancel_reason";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" DROP COLUMN "idempotency_key";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP COLUMN "cancelled_at";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" DROP COLUMN "cancelled_at";
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."runs"."status" in ('started', 'completed', 'failed'));
--> statement-breakpoint
ALTER TABLE "pgflow"."runs" ADD CONSTRAINT "status_matches_timestamps" CHECK (("pgflow"."runs"."status" = 'started' and "pgflow"."runs"."completed_at" is null and "pgflow"."runs"."failed_at" is null)
        or ("pgflow"."runs"."status" = 'completed' and "pgflow"."runs"."completed_at" is not null)
        or ("pgflow"."runs"."status" = 'failed' and "pgflow"."runs"."failed_at" is not null));
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed', 'skipped'));
--> statement-breakpoint
ALTER TABLE "pgflow"."step_tasks" ADD CONSTRAINT "valid_status" CHECK ("pgflow"."step_tasks"."status" in ('queued', 'started', 'completed', 'failed'));
--> statement-breakpoint
DROP TABLE "pgflow"."role_access";
