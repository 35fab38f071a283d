/**
 * Reads function definitions from a database's catalog, to compare what
 * migrations installed with what the SQL sources define.
 */
import type pg from 'pg';

export type Queryable = Pick<pg.ClientBase, 'query'>;

/** Every function and procedure in the given schemas: `schema.name(argtypes)` → `pg_get_functiondef` text. */
export async function functionDefinitions(client: Queryable, schemas: string[]): Promise<Map<string, string>> {
  const { rows } = await client.query<{ signature: string; definition: string }>(
    `select p.oid::regprocedure::text as signature, pg_get_functiondef(p.oid) as definition
     from pg_proc p
     join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = any($1) and p.prokind in ('f', 'p')
     order by 1`,
    [schemas],
  );
  return new Map(rows.map((row) => [row.signature, row.definition]));
}

/** Each function's row version (`xmin`): `create or replace` gives a function a new one even when nothing changed. */
export async function functionVersions(client: Queryable, schemas: string[]): Promise<Map<string, string>> {
  const { rows } = await client.query<{ signature: string; version: string }>(
    `select p.oid::regprocedure::text as signature, p.xmin::text as version
     from pg_proc p
     join pg_namespace n on n.oid = p.pronamespace
     where n.nspname = any($1) and p.prokind in ('f', 'p')`,
    [schemas],
  );
  return new Map(rows.map((row) => [row.signature, row.version]));
}

/** `function` or `procedure`, from a `pg_get_functiondef` text: what `drop <kind>` a routine needs. */
export function routineKind(definition: string): 'function' | 'procedure' {
  return /^\s*CREATE OR REPLACE PROCEDURE\b/i.test(definition) ? 'procedure' : 'function';
}
