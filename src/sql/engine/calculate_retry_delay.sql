-- pgflow.calculate_retry_delay(base_delay, attempts_count): exponential backoff in whole seconds,
-- floor(base_delay * 2^attempts_count).
--
-- The engine waits calculate_retry_delay(base_delay, n - 1) after the n-th failed attempt, so the
-- first retry waits base_delay. Invariants: the result is an integer that never overflows: it is
-- capped at 2147483647 s (the largest integer, about 68 years), and never below 0 (a negative
-- base_delay, which the engine refuses in create_flow and add_step, gives 0). now() plus the cap is
-- far inside PostgreSQL's timestamp range, so fail_task's visibility update (pgmq.set_vt) never
-- overflows either, whatever base_delay and attempts_count are. The exponent is limited to 1000
-- before the power is taken, so the numeric it computes stays small.
create or replace function pgflow.calculate_retry_delay(base_delay numeric, attempts_count integer)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select greatest(
    least(
      floor(base_delay * power(2::numeric, least(attempts_count, 1000)::numeric)),
      2147483647
    ),
    0
  )::integer;
$$;
