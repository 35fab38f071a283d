-- pgflow.fail_run(run_id, step_slug, error_message): fails a run because the task of `step_slug`
-- failed for good (the caller has already marked that task `failed`).
--
-- Invariants: afterwards nothing of the run is queued or started and none of its messages is left in
-- the queue. The failing step and every step with a queued or started task become `failed`; those
-- other tasks and steps record which step failed the run. Steps that never started stay `created`.
-- Events: step:failed for the failing step, then for the others, then run:failed. Callers hold the
-- run's row lock.
create or replace function pgflow.fail_run(run_id uuid, step_slug text, error_message text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_flow text;
  v_reason text := format('run failed because step "%s" failed', fail_run.step_slug);
  v_other_steps text[];
  v_messages bigint[];
  -- One time for the whole failure, read as a value (Citus allows no volatile function in an UPDATE of its
  -- tables); callers hold the run's lock already.
  v_now timestamptz := clock_timestamp();
begin
  update pgflow.runs r
  set status = 'failed', failed_at = v_now
  where r.run_id = fail_run.run_id and r.status = 'started'
  returning r.flow_slug into v_flow;
  if v_flow is null then
    return;
  end if;

  update pgflow.step_states s
  set status = 'failed', failed_at = v_now, error_message = fail_run.error_message
  where s.run_id = fail_run.run_id and s.step_slug = fail_run.step_slug;

  with cancelled as (
    update pgflow.step_tasks t
    set status = 'failed', failed_at = greatest(v_now, t.started_at), error_message = v_reason
    where t.run_id = fail_run.run_id and t.status in ('queued', 'started')
    returning t.step_slug
  )
  select array_agg(distinct cancelled.step_slug) into v_other_steps from cancelled;

  with cancelled as (
    update pgflow.step_states s
    set status = 'failed', failed_at = v_now, error_message = v_reason
    where s.run_id = fail_run.run_id and s.step_slug = any(v_other_steps) and s.status = 'started'
    returning s.step_slug
  )
  select array_agg(cancelled.step_slug order by cancelled.step_slug) into v_other_steps from cancelled;

  v_messages := array(
    select t.message_id from pgflow.step_tasks t
    where t.run_id = fail_run.run_id and t.status = 'failed' and t.message_id is not null
  );
  if cardinality(v_messages) > 0 then
    perform pgmq.archive(v_flow, v_messages);
  end if;

  perform pgflow.emit_event(
    'step:failed',
    v_flow,
    jsonb_build_object('run_id', fail_run.run_id, 'step_slug', fail_run.step_slug, 'status', 'failed',
      'error_message', fail_run.error_message, 'failed_at', clock_timestamp())
  );
  if v_other_steps is not null then
    perform pgflow.emit_events(
      'step:failed',
      array_fill(v_flow, array[cardinality(v_other_steps)]),
      array(
        select jsonb_build_object('run_id', fail_run.run_id, 'step_slug', other.slug, 'status', 'failed',
          'error_message', v_reason, 'failed_at', clock_timestamp())
        from unnest(v_other_steps) with ordinality as other(slug, ord)
        order by other.ord
      )
    );
  end if;
  perform pgflow.emit_event(
    'run:failed',
    v_flow,
    jsonb_build_object('run_id', fail_run.run_id, 'status', 'failed', 'failed_step_slug', fail_run.step_slug,
      'error_message', fail_run.error_message, 'failed_at', clock_timestamp())
  );
end;
$$;
