-- Reverts 0003_pgflow_map_steps_and_conditions: removes the columns of conditional steps and the
-- `skipped` step status. pgflow-orm 0.2.0 can run neither conditions, skipped steps nor map steps, so
-- this refuses, changing nothing, while the database holds any of them.
do $$
declare
  v_skipped bigint := (select count(*) from pgflow.step_states s where s.status = 'skipped');
  v_conditional bigint := (
    select count(*) from pgflow.steps s
    where s.required_input_pattern is not null or s.forbidden_input_pattern is not null
      or s.when_unmet <> 'skip' or s.when_exhausted <> 'fail'
  );
  v_maps bigint := (select count(*) from pgflow.steps s where s.step_type = 'map');
begin
  if v_skipped + v_conditional + v_maps > 0 then
    raise exception 'cannot revert 0003_pgflow_map_steps_and_conditions: the database has % skipped step state(s), % step(s) with a condition and % map step(s), which pgflow-orm 0.2.0 cannot run',
      v_skipped, v_conditional, v_maps
      using hint = 'Delete those runs and flows first, then migrate down again.';
  end if;
end
$$;
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP CONSTRAINT "status_is_valid";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP COLUMN "skipped_at";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" DROP COLUMN "skip_reason";
--> statement-breakpoint
ALTER TABLE "pgflow"."steps" DROP COLUMN "required_input_pattern";
--> statement-breakpoint
ALTER TABLE "pgflow"."steps" DROP COLUMN "forbidden_input_pattern";
--> statement-breakpoint
ALTER TABLE "pgflow"."steps" DROP COLUMN "when_unmet";
--> statement-breakpoint
ALTER TABLE "pgflow"."steps" DROP COLUMN "when_exhausted";
--> statement-breakpoint
ALTER TABLE "pgflow"."step_states" ADD CONSTRAINT "status_is_valid" CHECK ("pgflow"."step_states"."status" in ('created', 'started', 'completed', 'failed'));
