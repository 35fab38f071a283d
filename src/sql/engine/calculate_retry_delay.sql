-- pgflow.calculate_retry_delay(base_delay, attempts_count): exponential backoff in whole seconds,
-- floor(base_delay * 2^attempts_count).
--
-- The engine waits calculate_retry_delay(base_delay, n - 1) after the n-th failed attempt, so the
-- first retry waits base_delay. The result is capped at the largest integer instead of overflowing.
create or replace function pgflow.calculate_retry_delay(base_delay numeric, attempts_count integer)
returns integer
language sql
immutable
parallel safe
set search_path = ''
as $$
  select least(
    floor(base_delay * power(2::numeric, least(attempts_count, 1000)::numeric)),
    2147483647
  )::integer;
$$;
