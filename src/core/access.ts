/**
 * Permission errors that say what to do. When a database role lacks the
 * pgflow access level a job needs (see `pgflow.grant_worker`,
 * `grant_client`, `grant_reader`, `grant_admin`), PostgreSQL answers
 * "permission denied for …" (SQLSTATE 42501); `withAccessHint` turns that
 * into a `PgflowAccessError` naming the role, the level and the statement
 * that grants it. Any other error passes through unchanged.
 */
import type { AccessLevel } from './types.js';
import { toExecutor, type PgflowConnection } from './connection.js';

export const PERMISSION_DENIED = '42501';

/**
 * The role connected lacks the pgflow access level the operation needs.
 *
 * @example
 * ```ts
 * import { PgflowAccessError, startFlow } from 'pgflow-orm';
 *
 * await startFlow(pool, scrape, { url: 'https://example.com/' }).catch((error: unknown) => {
 *   if (error instanceof PgflowAccessError) console.error(`${error.role} needs the ${error.level} level: ${error.message}`);
 *   else throw error;
 * });
 * ```
 */
export class PgflowAccessError extends Error {
  override name = 'PgflowAccessError';
  readonly code = PERMISSION_DENIED;
  /** The role the connection runs as (`current_user`), when it could be read. */
  readonly role: string | undefined;
  readonly level: AccessLevel;

  constructor(message: string, role: string | undefined, level: AccessLevel, cause: unknown) {
    super(message, { cause });
    this.role = role;
    this.level = level;
  }
}

export function isPermissionDenied(error: unknown): error is Error & { code: string } {
  return error instanceof Error && (error as { code?: unknown }).code === PERMISSION_DENIED;
}

/** A string as an SQL literal. */
const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

async function currentRole(db: PgflowConnection): Promise<string | undefined> {
  try {
    const [row] = await toExecutor(db).query<{ role: string }>('select current_user as role');
    return row?.role;
  } catch {
    return undefined;
  }
}

/**
 * The statement that grants `level` to `role`, as pgflow's owner runs it.
 *
 * @example
 * ```ts
 * import { grantStatement } from 'pgflow-orm';
 *
 * console.log(grantStatement('worker', 'pgflow_worker')); // select pgflow.grant_worker('pgflow_worker');
 * ```
 */
export function grantStatement(level: AccessLevel, role: string | undefined): string {
  return `select pgflow.grant_${level}(${literal(role ?? '<role>')});`;
}

/**
 * Rethrows `error` as a PgflowAccessError when it is a permission error:
 * `doing` says what was attempted ("start a run of flow \"x\""), `level` which access level allows it.
 */
export async function accessError(db: PgflowConnection, error: unknown, level: AccessLevel, doing: string): Promise<unknown> {
  if (!isPermissionDenied(error) || error instanceof PgflowAccessError) return error;
  const role = await currentRole(db);
  return new PgflowAccessError(
    `${error.message}: role ${role === undefined ? '(unknown)' : `"${role}"`} cannot ${doing}. ` +
      `It needs pgflow's ${level} access level; the role that installed pgflow grants it with ${grantStatement(level, role)}`,
    role,
    level,
    error,
  );
}

/** Runs `operation`; a permission error becomes a PgflowAccessError (see accessError). */
export async function withAccessHint<T>(db: PgflowConnection, level: AccessLevel, doing: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw await accessError(db, error, level, doing);
  }
}
