-- pgflow.add_step(...): adds a step to a flow, after the steps it depends on.
--
-- Two overloads serve every call form: the main one takes dependencies and named options
-- (max_attempts, base_delay, timeout, start_delay, step_type, and the condition: required_input_pattern,
-- forbidden_input_pattern, when_unmet, when_exhausted); the second takes the three options
-- positionally for a step without dependencies (`add_step('f', 's', 7, 2, 30)`). Its parameters carry
-- other names, so named calls always resolve to the main signature.
--
-- step_type is 'single' (one task) or 'map' (one task per element of an array: the run input for a
-- map without dependencies, else the output of its one dependency). A step runs only when its input
-- contains required_input_pattern and does not contain forbidden_input_pattern (JSON objects, checked
-- with @>); otherwise when_unmet decides: 'skip' (default), 'skip-cascade' or 'fail'. when_exhausted
-- decides what a task that failed its last attempt does: 'fail' the run (default), or 'skip' /
-- 'skip-cascade' the step.
--
-- max_attempts counts every attempt, the first included; 0 means the same as 1 (one attempt, never
-- retried), as for pgflow.create_flow.
--
-- Invariants: dependencies must already exist, so the steps always form a DAG; the flow row is locked
-- so concurrent calls number steps without gaps or clashes; adding an existing step again is a no-op
-- (options and conditions passed are updated), while changing its dependencies or its type is refused.
-- Errors leave nothing behind.
create or replace function pgflow.add_step(
  flow_slug text,
  step_slug text,
  deps_slugs text[] default '{}',
  max_attempts integer default null,
  base_delay integer default null,
  timeout integer default null,
  start_delay integer default null,
  step_type text default 'single',
  required_input_pattern jsonb default null,
  forbidden_input_pattern jsonb default null,
  when_unmet text default null,
  when_exhausted text default null
)
returns pgflow.steps
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_deps text[] := coalesce(add_step.deps_slugs, '{}');
  v_step pgflow.steps;
  v_existing_deps text[];
  v_unknown text[];
  v_repeated text;
  v_step_index integer;
begin
  perform 1 from pgflow.flows f where f.flow_slug = add_step.flow_slug for update;
  if not found then
    raise exception 'flow "%" does not exist', add_step.flow_slug
      using errcode = '42704', hint = 'Create it first with pgflow.create_flow().';
  end if;

  if not pgflow.is_valid_slug(add_step.step_slug) then
    raise exception 'invalid step slug % in flow "%"', coalesce(quote_literal(add_step.step_slug), 'NULL'), add_step.flow_slug
      using errcode = '22023',
            hint = 'A slug has 1 to 128 letters, digits and underscores, starts with a letter or underscore, and is not "run" (reserved for the run input).';
  end if;
  if coalesce(add_step.step_type, 'single') not in ('single', 'map') then
    raise exception 'invalid step_type "%" for step "%": expected ''single'' or ''map''', add_step.step_type, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.step_type = 'map' and cardinality(v_deps) > 1 then
    raise exception 'map step "%" can depend on one step at most (it maps over that step''s output), got % dependencies: %',
      add_step.step_slug, cardinality(v_deps), array_to_string(v_deps, ', ')
      using errcode = '22023';
  end if;
  if add_step.required_input_pattern is not null and jsonb_typeof(add_step.required_input_pattern) <> 'object' then
    raise exception 'required_input_pattern of step "%" must be a JSON object, got %', add_step.step_slug, jsonb_typeof(add_step.required_input_pattern)
      using errcode = '22023';
  end if;
  if add_step.forbidden_input_pattern is not null and jsonb_typeof(add_step.forbidden_input_pattern) <> 'object' then
    raise exception 'forbidden_input_pattern of step "%" must be a JSON object, got %', add_step.step_slug, jsonb_typeof(add_step.forbidden_input_pattern)
      using errcode = '22023';
  end if;
  if add_step.when_unmet not in ('fail', 'skip', 'skip-cascade') then
    raise exception 'invalid when_unmet "%" for step "%": expected ''fail'', ''skip'' or ''skip-cascade''', add_step.when_unmet, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.when_exhausted not in ('fail', 'skip', 'skip-cascade') then
    raise exception 'invalid when_exhausted "%" for step "%": expected ''fail'', ''skip'' or ''skip-cascade''', add_step.when_exhausted, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.max_attempts < 0 then
    raise exception 'max_attempts must be 0 or more (got %) for step "%"', add_step.max_attempts, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.base_delay < 0 then
    raise exception 'base_delay must be 0 or more (got %) for step "%"', add_step.base_delay, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.timeout <= 0 then
    raise exception 'timeout must be greater than 0 (got %) for step "%"', add_step.timeout, add_step.step_slug
      using errcode = '22023';
  end if;
  if add_step.start_delay < 0 then
    raise exception 'start_delay must be 0 or more (got %) for step "%"', add_step.start_delay, add_step.step_slug
      using errcode = '22023';
  end if;

  if array_position(v_deps, null) is not null then
    raise exception 'the dependencies of step "%" contain NULL', add_step.step_slug
      using errcode = '22004';
  end if;
  if add_step.step_slug = any(v_deps) then
    raise exception 'step "%" cannot depend on itself', add_step.step_slug
      using errcode = '22023';
  end if;
  select d into v_repeated from unnest(v_deps) as d group by d having count(*) > 1 limit 1;
  if found then
    raise exception 'step "%" lists dependency "%" more than once', add_step.step_slug, v_repeated
      using errcode = '22023';
  end if;
  v_unknown := array(
    select d
    from unnest(v_deps) with ordinality as dep(d, ord)
    where not exists (select 1 from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = dep.d)
    order by dep.ord
  );
  if cardinality(v_unknown) > 0 then
    raise exception 'step "%" depends on unknown step(s) % of flow "%"', add_step.step_slug, array_to_string(v_unknown, ', '), add_step.flow_slug
      using errcode = '42704', hint = 'Add dependencies before the steps that depend on them.';
  end if;

  select s.* into v_step from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = add_step.step_slug;
  if found then
    v_existing_deps := array(
      select d.dep_slug from pgflow.deps d
      where d.flow_slug = add_step.flow_slug and d.step_slug = add_step.step_slug
      order by d.dep_slug
    );
    if v_existing_deps <> array(select d from unnest(v_deps) as d order by d) then
      raise exception 'step "%" of flow "%" already exists with dependencies {%}; it cannot be changed to {%}',
        add_step.step_slug, add_step.flow_slug, array_to_string(v_existing_deps, ', '), array_to_string(v_deps, ', ')
        using errcode = '22023', hint = 'Create a new flow (or a step with another slug) to change the shape of a flow.';
    end if;
    if v_step.step_type <> coalesce(add_step.step_type, 'single') then
      raise exception 'step "%" of flow "%" already exists as a % step; it cannot become a % step',
        add_step.step_slug, add_step.flow_slug, v_step.step_type, coalesce(add_step.step_type, 'single')
        using errcode = '22023', hint = 'Create a new flow (or a step with another slug) to change the shape of a flow.';
    end if;
    update pgflow.steps s
    set opt_max_attempts = coalesce(add_step.max_attempts, s.opt_max_attempts),
        opt_base_delay = coalesce(add_step.base_delay, s.opt_base_delay),
        opt_timeout = coalesce(add_step.timeout, s.opt_timeout),
        opt_start_delay = coalesce(add_step.start_delay, s.opt_start_delay),
        required_input_pattern = coalesce(add_step.required_input_pattern, s.required_input_pattern),
        forbidden_input_pattern = coalesce(add_step.forbidden_input_pattern, s.forbidden_input_pattern),
        when_unmet = coalesce(add_step.when_unmet, s.when_unmet),
        when_exhausted = coalesce(add_step.when_exhausted, s.when_exhausted)
    where s.flow_slug = add_step.flow_slug
      and s.step_slug = add_step.step_slug
      and (s.opt_max_attempts, s.opt_base_delay, s.opt_timeout, s.opt_start_delay,
           s.required_input_pattern, s.forbidden_input_pattern, s.when_unmet, s.when_exhausted) is distinct from (
        coalesce(add_step.max_attempts, s.opt_max_attempts),
        coalesce(add_step.base_delay, s.opt_base_delay),
        coalesce(add_step.timeout, s.opt_timeout),
        coalesce(add_step.start_delay, s.opt_start_delay),
        coalesce(add_step.required_input_pattern, s.required_input_pattern),
        coalesce(add_step.forbidden_input_pattern, s.forbidden_input_pattern),
        coalesce(add_step.when_unmet, s.when_unmet),
        coalesce(add_step.when_exhausted, s.when_exhausted)
      )
    returning s.* into v_step;
    if v_step.step_slug is null then
      select s.* into v_step from pgflow.steps s where s.flow_slug = add_step.flow_slug and s.step_slug = add_step.step_slug;
    end if;
    return v_step;
  end if;

  -- Computed apart from the insert: Citus accepts no subquery inside an INSERT.
  select coalesce(max(s.step_index) + 1, 0) into v_step_index from pgflow.steps s where s.flow_slug = add_step.flow_slug;
  insert into pgflow.steps (
    flow_slug, step_slug, step_type, step_index, deps_count,
    opt_max_attempts, opt_base_delay, opt_timeout, opt_start_delay,
    required_input_pattern, forbidden_input_pattern, when_unmet, when_exhausted
  )
  values (
    add_step.flow_slug,
    add_step.step_slug,
    coalesce(add_step.step_type, 'single'),
    v_step_index,
    cardinality(v_deps),
    add_step.max_attempts,
    add_step.base_delay,
    add_step.timeout,
    add_step.start_delay,
    add_step.required_input_pattern,
    add_step.forbidden_input_pattern,
    coalesce(add_step.when_unmet, 'skip'),
    coalesce(add_step.when_exhausted, 'fail')
  )
  returning * into v_step;

  insert into pgflow.deps (flow_slug, dep_slug, step_slug)
  select add_step.flow_slug, d, add_step.step_slug
  from unnest(v_deps) as d;

  return v_step;
end;
$$;

create or replace function pgflow.add_step(
  flow_slug text,
  step_slug text,
  opt_max_attempts integer,
  opt_base_delay integer default null,
  opt_timeout integer default null
)
returns pgflow.steps
language sql
security definer
set search_path = ''
as $$
  select * from pgflow.add_step(
    flow_slug => $1,
    step_slug => $2,
    deps_slugs => '{}'::text[],
    max_attempts => $3,
    base_delay => $4,
    timeout => $5
  );
$$;
