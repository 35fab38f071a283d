-- pgmq.metrics(queue_name): one queue's statistics: messages in the queue (all and visible
-- now), age in seconds of the newest and oldest message (NULL when empty), total messages ever
-- sent (the highest msg_id handed out) and the scrape time.
--
-- Invariants: read-only, one query over the queue table and its identity sequence
-- pgmq.q_<name>_msg_id_seq; every time is the transaction time now(); queue_name is echoed as
-- given. An unknown queue fails with 42P01 (see pgmq._queue_table).
create or replace function pgmq.metrics(queue_name text)
returns pgmq.metrics_result
language plpgsql
set search_path = ''
as $$
declare
  queue_table text := pgmq._queue_table(queue_name);
  result pgmq.metrics_result;
begin
  execute format(
    'select
       $1::text,
       stats.queue_length,
       stats.newest_msg_age_sec,
       stats.oldest_msg_age_sec,
       ids.total_messages,
       now(),
       stats.queue_visible_length
     from (
       select
         count(*) as queue_length,
         count(*) filter (where q.vt <= now()) as queue_visible_length,
         extract(epoch from now() - max(q.enqueued_at))::integer as newest_msg_age_sec,
         extract(epoch from now() - min(q.enqueued_at))::integer as oldest_msg_age_sec
       from pgmq.%I as q
     ) as stats
     cross join (
       select case when s.is_called then s.last_value else 0 end as total_messages
       from pgmq.%I as s
     ) as ids',
    queue_table,
    queue_table || '_msg_id_seq'
  )
  into result
  using queue_name;
  return result;
end;
$$;
