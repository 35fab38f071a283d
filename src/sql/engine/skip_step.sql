-- pgflow.skip_step(run_id, step_slug, skip_reason, cascade, error_message): skips a step of a started
-- run: its condition was not met ('condition_unmet') or its task failed its last attempt
-- ('handler_failed', with that attempt's error_message). With `cascade` every step that depends on it,
-- directly or not, is skipped too ('dependency_skipped'). Returns how many steps it skipped.
--
-- A skipped step counts as finished: the run has one step less to wait for, and its dependents one
-- dependency less (they run without its key in their input; a map over it has no element). Tasks of a
-- skipped step that were queued or running fail and leave the queue, so none of them runs or counts
-- again. Only `created` and `started` steps are skipped. Events: step:skipped per step, in step order.
-- Callers hold the run's row lock.
create or replace function pgflow.skip_step(
  run_id uuid,
  step_slug text,
  skip_reason text,
  cascade boolean,
  error_message text default null
)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_flow text;
  v_skipped text[];
  v_reasons text[];
  v_messages bigint[];
  v_closure text[];
  v_now timestamptz;
begin
  select r.flow_slug into v_flow from pgflow.runs r where r.run_id = skip_step.run_id and r.status = 'started';
  if not found then
    return 0;
  end if;

  -- The step and, with `cascade`, everything after it: read from the definitions first, so that the
  -- update below names the run id and plain values only (Citus routes it to the run's node). The time
  -- too is read as a value (Citus allows no volatile function in an UPDATE of its tables).
  with recursive closure(step_slug) as (
    select skip_step.step_slug
    union
    select d.step_slug
    from closure c
    join pgflow.deps d on d.flow_slug = v_flow and d.dep_slug = c.step_slug
    where skip_step.cascade
  )
  select array_agg(closure.step_slug) into v_closure from closure;
  v_now := clock_timestamp();

  with skipped as (
    update pgflow.step_states s
    set status = 'skipped',
        skipped_at = v_now,
        skip_reason = case when s.step_slug = skip_step.step_slug then skip_step.skip_reason else 'dependency_skipped' end,
        error_message = case when s.step_slug = skip_step.step_slug then skip_step.error_message else s.error_message end
    where s.run_id = skip_step.run_id
      and s.step_slug = any(v_closure)
      and s.status in ('created', 'started')
    returning s.step_slug, s.skip_reason
  )
  select array_agg(skipped.step_slug order by step.step_index), array_agg(skipped.skip_reason order by step.step_index)
  into v_skipped, v_reasons
  from skipped
  join pgflow.steps step on step.flow_slug = v_flow and step.step_slug = skipped.step_slug;

  if v_skipped is null then
    return 0;
  end if;

  with cancelled as (
    update pgflow.step_tasks t
    set status = 'failed',
        failed_at = greatest(v_now, t.started_at),
        -- (concatenation, not format(): Citus allows no STABLE function over a column in an UPDATE)
        error_message = 'not run: step "' || t.step_slug || '" was skipped'
    where t.run_id = skip_step.run_id
      and t.step_slug = any(v_skipped)
      and t.status in ('queued', 'started')
    returning t.message_id
  )
  select array_agg(cancelled.message_id) filter (where cancelled.message_id is not null) into v_messages from cancelled;
  if v_messages is not null then
    perform pgmq.archive(v_flow, v_messages);
  end if;

  update pgflow.step_states s
  set remaining_deps = s.remaining_deps - waiting.n
  from (
    select d.step_slug, count(*)::integer as n
    from pgflow.deps d
    where d.flow_slug = v_flow and d.dep_slug = any(v_skipped) and d.step_slug <> all(v_skipped)
    group by d.step_slug
  ) waiting
  where s.run_id = skip_step.run_id and s.step_slug = waiting.step_slug;

  update pgflow.runs r
  set remaining_steps = r.remaining_steps - cardinality(v_skipped)
  where r.run_id = skip_step.run_id;

  perform pgflow.emit_events(
    'step:skipped',
    array_fill(v_flow, array[cardinality(v_skipped)]),
    array(
      select jsonb_build_object('run_id', skip_step.run_id, 'step_slug', skipped.slug, 'status', 'skipped',
          'skip_reason', skipped.reason, 'skipped_at', v_now)
        || case
             when skipped.slug = skip_step.step_slug and skip_step.error_message is not null
               then jsonb_build_object('error_message', skip_step.error_message)
             else '{}'::jsonb
           end
      from unnest(v_skipped, v_reasons) with ordinality as skipped(slug, reason, ord)
      order by skipped.ord
    )
  );
  return cardinality(v_skipped);
end;
$$;
