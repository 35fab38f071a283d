-- pgflow.retry_run(run_id): starts a failed or cancelled run again from where it stopped. Returns the
-- run, `started` again, or no row — with a notice saying so — when the run is not failed or cancelled
-- (a concurrent retry got there first, say), in which case nothing changes.
--
-- Completed and skipped steps keep their state and outputs and do not run again. Every other step
-- (failed, cancelled, or never started) waits again for its unfinished dependencies; its tasks start
-- afresh (attempts from 0; a map re-runs all its elements; the old task rows are replaced) as soon as
-- those dependencies are done. remaining_steps counts the steps to run again. Event: run:retried
-- (with retried_steps), then the events of the steps that start.
-- Invariants: the run's row is locked first, so of two concurrent retries exactly one retries the run;
-- an unknown run is an error.
create or replace function pgflow.retry_run(run_id uuid)
returns setof pgflow.runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run pgflow.runs;
  v_again text[];
  v_messages bigint[];
  v_input_size integer;
begin
  select r.* into v_run from pgflow.runs r where r.run_id = retry_run.run_id for update;
  if not found then
    raise exception 'run % does not exist', retry_run.run_id using errcode = '42704';
  end if;
  if v_run.status not in ('failed', 'cancelled') then
    raise notice 'run % is %; only a failed or cancelled run can be retried', retry_run.run_id, v_run.status;
    return;
  end if;

  v_again := array(
    select s.step_slug from pgflow.step_states s
    where s.run_id = retry_run.run_id and s.status not in ('completed', 'skipped')
  );

  if jsonb_typeof(v_run.input) = 'array' then
    v_input_size := jsonb_array_length(v_run.input);
  end if;

  -- Their tasks are replaced; a message still in the queue goes to the archive with them.
  with removed as (
    delete from pgflow.step_tasks t
    where t.run_id = retry_run.run_id and t.step_slug = any(v_again)
    returning t.message_id
  )
  select array_agg(removed.message_id) filter (where removed.message_id is not null) into v_messages from removed;
  if v_messages is not null then
    perform pgmq.archive(v_run.flow_slug, v_messages);
  end if;

  update pgflow.step_states s
  set status = 'created', started_at = null, failed_at = null, cancelled_at = null, error_message = null,
      remaining_tasks = null,
      initial_tasks = case
        when step.step_type = 'single' then 1
        when step.deps_count = 0 then v_input_size
      end
  from pgflow.steps step
  where s.run_id = retry_run.run_id
    and s.step_slug = any(v_again)
    and step.flow_slug = s.flow_slug
    and step.step_slug = s.step_slug;

  update pgflow.step_states s
  set remaining_deps = (
    select count(*)
    from pgflow.deps d
    join pgflow.step_states dep_state on dep_state.run_id = s.run_id and dep_state.step_slug = d.dep_slug
    where d.flow_slug = s.flow_slug and d.step_slug = s.step_slug and dep_state.status not in ('completed', 'skipped')
  )
  where s.run_id = retry_run.run_id and s.step_slug = any(v_again);

  update pgflow.runs r
  set status = 'started', failed_at = null, cancelled_at = null, cancel_reason = null, remaining_steps = cardinality(v_again)
  where r.run_id = retry_run.run_id;

  perform pgflow.emit_event(
    'run:retried',
    v_run.flow_slug,
    jsonb_build_object('run_id', v_run.run_id, 'status', 'started', 'retried_steps', cardinality(v_again), 'retried_at', clock_timestamp())
  );
  perform pgflow.advance_runs(array[retry_run.run_id]);

  return query select r.* from pgflow.runs r where r.run_id = retry_run.run_id;
end;
$$;
