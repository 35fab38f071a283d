-- pgmq.format_table_name(queue_name, prefix): the name of a queue's table, `<prefix>_<queue_name>`
-- lowercased (prefix `q` for the queue table, `a` for the archive table).
--
-- Invariants: every queue function derives its table names here, so a name containing `$`, `;`,
-- `--` or a single quote is rejected before any SQL is built; callers still quote the result
-- with format('%I'). Only the table name is lowercased, never the stored queue name.
create or replace function pgmq.format_table_name(
  queue_name text,
  prefix text
)
returns text
language plpgsql
set search_path = ''
as $$
begin
  if queue_name ~ '\$|;|--|''' then
    raise exception 'queue name contains invalid characters: $, ;, --, or ''';
  end if;
  return lower(prefix || '_' || queue_name);
end;
$$;
