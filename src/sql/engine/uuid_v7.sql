-- pgflow.uuid_v7(): a new time-ordered UUID (version 7: 48-bit Unix milliseconds, then random bits).
--
-- Run ids come from here, so new runs, their step states and their tasks land at the end of their
-- primary-key indexes instead of at random pages: inserts stay cheap however many runs the tables hold.
create or replace function pgflow.uuid_v7()
returns uuid
language sql
volatile
parallel safe
set search_path = ''
as $$
  select encode(
    set_bit(
      set_bit(
        overlay(
          uuid_send(gen_random_uuid())
          placing substring(int8send(floor(extract(epoch from clock_timestamp()) * 1000)::bigint) from 3)
          from 1 for 6
        ),
        52, 1
      ),
      53, 1
    ),
    'hex'
  )::uuid;
$$;
