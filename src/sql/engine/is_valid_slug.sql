-- pgflow.is_valid_slug(slug): whether `slug` may name a flow or a step.
--
-- A slug is 1 to 128 characters, starts with a letter or underscore, continues with letters,
-- digits and underscores, and is not `run` (the key that carries the run input in step inputs).
create or replace function pgflow.is_valid_slug(slug text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select slug is not null
    and length(slug) between 1 and 128
    and slug ~ '^[a-zA-Z_][a-zA-Z0-9_]*$'
    and slug <> 'run';
$$;
