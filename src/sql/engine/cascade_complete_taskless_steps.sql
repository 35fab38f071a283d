-- pgflow.cascade_complete_taskless_steps(run_id): completes, wave after wave, the ready steps of the
-- run that have no task to run (initial_tasks = 0), counting them off their dependents and the run.
-- Returns how many steps it completed.
--
-- Single steps always have one task, so with single steps only this completes nothing; it keeps the
-- pgflow 0.8.1 contract for step types whose task count can be zero. The run's row is locked first.
create or replace function pgflow.cascade_complete_taskless_steps(run_id uuid)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  v_total integer := 0;
  v_slugs text[];
  v_flow text;
begin
  perform 1 from pgflow.runs r where r.run_id = cascade_complete_taskless_steps.run_id for update;
  loop
    with completed as (
      update pgflow.step_states s
      set status = 'completed', started_at = clock_timestamp(), completed_at = clock_timestamp(), remaining_tasks = 0
      where s.run_id = cascade_complete_taskless_steps.run_id
        and s.status = 'created'
        and s.remaining_deps = 0
        and s.initial_tasks = 0
      returning s.step_slug, s.flow_slug
    )
    select array_agg(completed.step_slug), min(completed.flow_slug) into v_slugs, v_flow from completed;
    exit when v_slugs is null;

    update pgflow.step_states s
    set remaining_deps = s.remaining_deps - c.n
    from (
      select d.step_slug, count(*)::integer as n
      from pgflow.deps d
      where d.flow_slug = v_flow and d.dep_slug = any(v_slugs)
      group by d.step_slug
    ) c
    where s.run_id = cascade_complete_taskless_steps.run_id and s.step_slug = c.step_slug;

    update pgflow.runs r
    set remaining_steps = r.remaining_steps - cardinality(v_slugs)
    where r.run_id = cascade_complete_taskless_steps.run_id;

    perform pgflow.emit_events(
      'step:completed',
      array_fill(v_flow, array[cardinality(v_slugs)]),
      array(
        select jsonb_build_object('run_id', cascade_complete_taskless_steps.run_id, 'step_slug', completed.slug,
          'status', 'completed', 'completed_at', clock_timestamp())
        from unnest(v_slugs) with ordinality as completed(slug, ord)
        order by completed.ord
      )
    );

    v_total := v_total + cardinality(v_slugs);
  end loop;
  return v_total;
end;
$$;
