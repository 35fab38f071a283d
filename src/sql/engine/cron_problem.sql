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
