/**
 * `--without-events` (a diagnostic, never a way to run the engine): in the
 * benchmark's own throw-away database, replaces every pgflow function that
 * calls pg_notify and returns void with an empty body of the same signature,
 * to show what the events cost. PostgreSQL serialises the commits of all
 * transactions that notify (one lock for the whole server), so they cannot
 * share WAL flushes the way other commits do.
 */
import type pg from 'pg';

/** Returns the silenced functions' signatures. */
export async function silenceEvents(client: pg.Client): Promise<string[]> {
  const functions = (
    await client.query<{ name: string; args: string }>(
      `select p.proname as name, pg_get_function_arguments(p.oid) as args
       from pg_proc p
       where p.pronamespace = 'pgflow'::regnamespace
         and p.prorettype = 'void'::regtype
         and p.prokind = 'f'
         and p.prosrc ~ 'pg_notify\\s*\\('`,
    )
  ).rows;
  for (const fn of functions) {
    await client.query(`create or replace function pgflow."${fn.name.replaceAll('"', '""')}"(${fn.args}) returns void language plpgsql set search_path = '' as $$ begin end; $$`);
  }
  return functions.map((fn) => `pgflow.${fn.name}(${fn.args})`);
}
