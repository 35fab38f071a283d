-- pgmq.validate_queue_name(queue_name): rejects queue names longer than 47 characters.
--
-- Invariants: the longest object derived from a queue name, the archive index
-- `archived_at_idx_<queue_name>`, stays within PostgreSQL's 63-byte identifier limit, so no
-- derived name is silently truncated. Called by the create* functions only.
create or replace function pgmq.validate_queue_name(queue_name text)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if length(queue_name) > 47 then
    raise exception 'queue name is too long, maximum length is 47 characters'
      using detail = format('The queue name has %s characters.', length(queue_name));
  end if;
end;
$$;
