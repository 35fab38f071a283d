-- pgflow.handle_exhausted_task(run_id, step_slug, error_message): what follows once a task of the step
-- has failed its last attempt (the caller has marked it `failed` with that error), as the step's
-- when_exhausted says: the run fails ('fail', the default; see pgflow.fail_run), or the step is
-- skipped with skip_reason 'handler_failed', alone ('skip': its dependents run without its output) or
-- with every step after it ('skip-cascade'), and the run moves on (see pgflow.advance_runs).
--
-- Invariants: callers hold the run's row lock; nothing changes in a run that is not `started`.
create or replace function pgflow.handle_exhausted_task(run_id uuid, step_slug text, error_message text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_when_exhausted text;
begin
  select step.when_exhausted into v_when_exhausted
  from pgflow.runs r
  join pgflow.steps step on step.flow_slug = r.flow_slug and step.step_slug = handle_exhausted_task.step_slug
  where r.run_id = handle_exhausted_task.run_id and r.status = 'started';
  if not found then
    return;
  end if;
  if v_when_exhausted = 'fail' then
    perform pgflow.fail_run(handle_exhausted_task.run_id, handle_exhausted_task.step_slug, handle_exhausted_task.error_message);
    return;
  end if;
  perform pgflow.skip_step(
    handle_exhausted_task.run_id,
    handle_exhausted_task.step_slug,
    'handler_failed',
    v_when_exhausted = 'skip-cascade',
    handle_exhausted_task.error_message
  );
  perform pgflow.advance_runs(array[handle_exhausted_task.run_id]);
end;
$$;
