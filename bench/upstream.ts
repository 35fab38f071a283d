/**
 * pgflow 0.8.1 itself, for comparison on the same server: the SQL migrations
 * published in the npm package `@pgflow/core@0.8.1` (a devDependency, applied
 * as published; nothing of it is copied into this repository), installed in a
 * database of its own with
 * - this package's built-in pgmq-compatible queue standing in for the pgmq
 *   extension (pgflow's migrations only create the extension, which the
 *   embedded server does not have), and
 * - a `realtime.send` that publishes with pg_notify on the run's topic and on
 *   `pgflow_events` (Supabase Realtime is not there), as pgflow-orm does; an
 *   event too large for pg_notify (8000 bytes) goes without its payload.
 * Only the per-task protocol applies: pgflow 0.8.1 has no batched forms.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readSqlSources } from '../scripts/release/sources.js';
import { defineFlow, type Scenario } from './scenarios.js';
import { withClient } from './server.js';

export const UPSTREAM_LABEL = 'pgflow 0.8.1';

function upstreamMigrations(): string[] {
  const manifest = createRequire(import.meta.url).resolve('@pgflow/core/package.json');
  const folder = join(dirname(manifest), 'dist', 'supabase', 'migrations');
  return readdirSync(folder)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => readFileSync(join(folder, file), 'utf8'));
}

const REALTIME_STUB = `
  create schema realtime;
  create function realtime.send(payload jsonb, event text, topic text, private boolean default true)
  returns void
  language plpgsql
  as $$
  declare
    notification text := jsonb_build_object('event', event, 'topic', topic, 'payload', payload)::text;
  begin
    -- Supabase Realtime carries payloads of any size; pg_notify refuses 8000 bytes or more (a run of a large
    -- map step carries its whole input), so such an event is sent without its payload.
    if octet_length(notification) >= 8000 then
      notification := jsonb_build_object('event', event, 'topic', topic, 'payload_omitted', true)::text;
    end if;
    perform pg_notify('pgflow_events', notification);
    perform pg_notify(topic, notification);
  end;
  $$;`;

export async function installUpstreamTemplate(url: string, scenarios: Scenario[]): Promise<void> {
  await withClient(url, async (client) => {
    for (const source of readSqlSources('queue')) await client.query(source.sql);
    await client.query(REALTIME_STUB);
    for (const migration of upstreamMigrations()) {
      await client.query(migration.replace(/create extension if not exists "?pgmq"?[^;]*;/gi, ''));
    }
    for (const scenario of scenarios) await defineFlow(client, scenario);
  });
}
