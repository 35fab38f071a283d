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
