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
  v_now timestamptz;
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

  -- The time as a value: Citus allows no volatile function in an UPDATE of its (reference) tables.
  v_now := clock_timestamp();
  insert into pgflow.schedules (flow_slug, schedule_name, cron, input, timezone)
  values (schedule_flow.flow_slug, schedule_flow.schedule_name, btrim(schedule_flow.cron), schedule_flow.input, schedule_flow.timezone)
  on conflict on constraint schedules_pkey do update
    set cron = excluded.cron, input = excluded.input, timezone = excluded.timezone, updated_at = v_now
  returning * into v_schedule;
  return v_schedule;
end;
$$;
