-- pgmq._check_read_arguments(vt, qty): refuses what pgmq.read and pgmq.read_with_poll cannot
-- read with, before anything is read: a NULL vt or qty (SQLSTATE 22004; NULL qty would mean no
-- limit, NULL vt would fail on the NOT NULL column), a negative vt (the messages would be handed
-- out already visible again) or a negative qty (22023).
--
-- Invariants: reads and writes nothing (volatile only because every function of the queue is).
create or replace function pgmq._check_read_arguments(vt integer, qty integer)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if vt is null then
    raise exception 'vt must not be NULL' using errcode = '22004';
  end if;
  if vt < 0 then
    raise exception 'vt must be 0 or more seconds, got %', vt
      using errcode = '22023',
            hint = 'vt is how long the messages read stay hidden from other readers; 0 leaves them visible.';
  end if;
  if qty is null then
    raise exception 'qty must not be NULL' using errcode = '22004';
  end if;
  if qty < 0 then
    raise exception 'qty must be 0 or more, got %', qty using errcode = '22023';
  end if;
end;
$$;
