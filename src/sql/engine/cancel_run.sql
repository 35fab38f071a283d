-- pgflow.cancel_run(run_id, reason): stops a started run for good. Returns the run, now `cancelled`
-- (cancelled_at, cancel_reason), or no row — with a notice saying so — when the run had already
-- finished (completed, failed or cancelled), in which case nothing changes.
--
-- Its queued and started tasks and its unfinished step states become `cancelled` and the tasks'
-- messages leave the queue, so nothing of the run starts again; a worker still running one of its
-- tasks gets no row back from complete_task / fail_task, as for a failed run. Event: run:cancelled.
-- Invariants: the run's row is locked first, so a cancel and a completion of the same run do not
-- interleave: whichever commits first wins and the other sees its result. An unknown run is an error.
create or replace function pgflow.cancel_run(run_id uuid, reason text default null)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_messages bigint[];
  v_now timestamptz;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = cancel_run.run_id for update;
  if not found then
    raise exception 'run % does not exist', cancel_run.run_id using errcode = '42704';
  end if;
  if v_run.status <> 'started' then
    raise notice 'run % is already %; nothing to cancel', cancel_run.run_id, v_run.status;
    return;
  end if;
  -- The time, read once the run is locked (Citus allows no volatile function in an UPDATE of its tables);
  -- a task's never earlier than its start.
  v_now := clock_timestamp();

  update pgflow.runs r
  set status = 'cancelled', cancelled_at = v_now, cancel_reason = cancel_run.reason
  where r.run_id = cancel_run.run_id
  returning r.* into v_run;

  with cancelled as (
    update pgflow.step_tasks t
    set status = 'cancelled', cancelled_at = greatest(v_now, t.started_at)
    where t.run_id = cancel_run.run_id and t.status in ('queued', 'started')
    returning t.message_id
  )
  select array_agg(cancelled.message_id) filter (where cancelled.message_id is not null) into v_messages from cancelled;
  if v_messages is not null then
    perform pgmq.archive(v_run.flow_slug, v_messages);
  end if;

  update pgflow.step_states s
  set status = 'cancelled', cancelled_at = greatest(v_now, s.started_at)
  where s.run_id = cancel_run.run_id and s.status in ('created', 'started');

  perform pgflow.emit_event(
    'run:cancelled',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'cancelled', 'cancelled_at', v_run.cancelled_at)
      || case when cancel_run.reason is null then '{}'::jsonb else jsonb_build_object('reason', left(cancel_run.reason, 1000)) end
  );
  return next v_run;
end;
$$;
