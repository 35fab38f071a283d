-- pgflow.create_flow(flow_slug, max_attempts, base_delay, timeout): creates a flow, or updates the
-- options of an existing one, and makes sure its queue exists.
--
-- Options not passed keep their stored value (3 / 5 / 60 for a new flow); calling it again with the
-- same options changes nothing. max_attempts counts every attempt, the first included: 0 is accepted,
-- as by pgflow 0.8.1 (whose tables allow it), and means the same as 1 — one attempt, never retried. The flow's queue is named after the flow, so the slug obeys the queue
-- name limit (47 characters), and two slugs that differ only in letter case are refused because queue
-- tables are named in lower case.
create or replace function pgflow.create_flow(
  flow_slug text,
  max_attempts integer default null,
  base_delay integer default null,
  timeout integer default null
)
returns pgflow.flows
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_flow pgflow.flows;
  v_clash text;
begin
  if not pgflow.is_valid_slug(create_flow.flow_slug) then
    raise exception 'invalid flow slug %', coalesce(quote_literal(create_flow.flow_slug), 'NULL')
      using errcode = '22023',
            hint = 'A slug starts with a letter or underscore, has only letters, digits and underscores, and is not "run".';
  end if;
  if length(create_flow.flow_slug) > 47 then
    raise exception 'flow slug "%" is % characters long; flow slugs are limited to 47 characters because they name the flow''s queue',
      create_flow.flow_slug, length(create_flow.flow_slug)
      using errcode = '22023';
  end if;
  if create_flow.max_attempts < 0 then
    raise exception 'max_attempts must be 0 or more (got %) for flow "%"', create_flow.max_attempts, create_flow.flow_slug
      using errcode = '22023';
  end if;
  if create_flow.base_delay < 0 then
    raise exception 'base_delay must be 0 or more (got %) for flow "%"', create_flow.base_delay, create_flow.flow_slug
      using errcode = '22023';
  end if;
  if create_flow.timeout <= 0 then
    raise exception 'timeout must be greater than 0 (got %) for flow "%"', create_flow.timeout, create_flow.flow_slug
      using errcode = '22023';
  end if;

  select f.flow_slug into v_clash
  from pgflow.flows f
  where lower(f.flow_slug) = lower(create_flow.flow_slug)
    and f.flow_slug <> create_flow.flow_slug
  limit 1;
  if found then
    raise exception 'flow slug "%" clashes with existing flow "%": flow queues are named in lower case', create_flow.flow_slug, v_clash
      using errcode = '23505';
  end if;

  insert into pgflow.flows as f (flow_slug, opt_max_attempts, opt_base_delay, opt_timeout)
  values (
    create_flow.flow_slug,
    coalesce(create_flow.max_attempts, 3),
    coalesce(create_flow.base_delay, 5),
    coalesce(create_flow.timeout, 60)
  )
  on conflict on constraint flows_pkey do update
  set opt_max_attempts = coalesce(create_flow.max_attempts, f.opt_max_attempts),
      opt_base_delay = coalesce(create_flow.base_delay, f.opt_base_delay),
      opt_timeout = coalesce(create_flow.timeout, f.opt_timeout)
  where (f.opt_max_attempts, f.opt_base_delay, f.opt_timeout) is distinct from (
    coalesce(create_flow.max_attempts, f.opt_max_attempts),
    coalesce(create_flow.base_delay, f.opt_base_delay),
    coalesce(create_flow.timeout, f.opt_timeout)
  )
  returning f.* into v_flow;

  if v_flow.flow_slug is null then
    select f.* into v_flow from pgflow.flows f where f.flow_slug = create_flow.flow_slug;
  end if;

  if not exists (select 1 from pgmq.meta m where m.queue_name = create_flow.flow_slug) then
    perform pgmq.create(create_flow.flow_slug);
    perform pgflow.apply_queue_access(a.role_name, a.access, true, create_flow.flow_slug)
    from pgflow.role_access a
    join pg_catalog.pg_roles r on r.rolname = a.role_name;
  end if;

  return v_flow;
end;
$$;
