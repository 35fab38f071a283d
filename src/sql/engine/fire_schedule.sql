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
