-- pgflow.idempotent_run_id(flow_slug, idempotency_key): the run id an idempotent start of the flow
-- with this key gets — the same for the same pair, always, on every server — as a UUID (version 8,
-- from an MD5 of the pair). Keying the run on it lets the runs' primary key make the start
-- idempotent, with no index beyond run_id (runs stay distributable by run_id).
create or replace function pgflow.idempotent_run_id(flow_slug text, idempotency_key text)
returns uuid
language sql
immutable
parallel safe
set search_path = ''
as $$
  select (
    substr(h.hex, 1, 12) || '8' || substr(h.hex, 14, 3)
    || substr('89ab', get_byte(decode(substr(h.hex, 17, 2), 'hex'), 0) % 4 + 1, 1)
    || substr(h.hex, 18, 15)
  )::uuid
  from (select md5(idempotent_run_id.flow_slug || chr(31) || idempotent_run_id.idempotency_key) as hex) h;
$$;
