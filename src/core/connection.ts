/**
 * One way to send SQL, whatever the app connects with: a `pg` Pool, Client
 * or PoolClient, a postgres.js `sql`, a Drizzle database (node-postgres or
 * postgres.js) or a Kysely instance (or transaction). Everything in the
 * package talks to the database through a `SqlExecutor`.
 */

export interface SqlExecutor {
  /** Runs one statement with `$1`-style parameters and returns its rows. */
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<R[]>;
}

/** Anything with node-postgres' `query(text, values)` (Pool, Client, PoolClient). */
export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rows: unknown[] }>;
}

/** A postgres.js `sql` instance (or a reserved connection / transaction). */
export interface PostgresJsLike {
  unsafe(text: string, values?: unknown[]): PromiseLike<unknown[]>;
}

/** A Drizzle database: its `$client` is the driver it was built on. */
export interface DrizzleLike {
  $client: unknown;
}

/** A Kysely instance or transaction. */
export interface KyselyLike {
  executeQuery(query: unknown): Promise<{ rows: unknown[] }>;
  getExecutor(): unknown;
  /** Kysely 0.28+: the same instance without plugins such as CamelCasePlugin, which would rewrite result rows. */
  withoutPlugins?(): KyselyLike;
}

export type PgflowConnection = SqlExecutor | PgQueryable | PostgresJsLike | DrizzleLike | KyselyLike;

const isObjectLike = (value: unknown): value is Record<string, unknown> =>
  (typeof value === 'object' || typeof value === 'function') && value !== null;

function isKysely(db: unknown): db is KyselyLike {
  return isObjectLike(db) && typeof db.executeQuery === 'function' && typeof db.getExecutor === 'function';
}

function isDrizzle(db: unknown): db is DrizzleLike {
  return isObjectLike(db) && '$client' in db && db.$client !== undefined;
}

function isPostgresJs(db: unknown): db is PostgresJsLike {
  return isObjectLike(db) && typeof db.unsafe === 'function';
}

function isPg(db: unknown): db is PgQueryable {
  return isObjectLike(db) && typeof db.query === 'function';
}

/**
 * postgres.js `transform` options (e.g. `postgres.camel`) rewrite every result row, including the
 * keys inside JSON values, and cannot be switched off per query: refuse them with a clear message.
 */
function assertNoPostgresJsTransform(db: PostgresJsLike): void {
  const transform = (db as { options?: { transform?: Record<string, unknown> } }).options?.transform;
  const rewrites = transform && ['column', 'value', 'row'].some((part) => {
    const rule = transform[part] as { from?: unknown } | undefined;
    return typeof rule?.from === 'function';
  });
  if (rewrites) {
    throw new TypeError(
      'pgflow-orm: this postgres.js instance transforms result rows (the `transform` option), which would rewrite ' +
        'pgflow records and the JSON inside them; pass a postgres.js instance created without `transform`',
    );
  }
}

const executors = new WeakMap<object, SqlExecutor>();

/** Wraps a supported connection as a `SqlExecutor` (the same wrapper for the same object). */
export function toExecutor(db: PgflowConnection): SqlExecutor {
  const cached = executors.get(db);
  if (cached) return cached;
  const executor = createExecutor(db);
  executors.set(db, executor);
  return executor;
}

function createExecutor(db: unknown): SqlExecutor {
  if (isKysely(db)) {
    const plain = db.withoutPlugins?.() ?? db;
    let compile: ((text: string, values: unknown[]) => unknown) | undefined;
    return {
      async query<R>(text: string, values: readonly unknown[] = []) {
        if (!compile) {
          const { CompiledQuery } = await import('kysely');
          compile = (sqlText, parameters) => CompiledQuery.raw(sqlText, parameters);
        }
        const result = await plain.executeQuery(compile(text, [...values]));
        return result.rows as R[];
      },
    };
  }
  if (isDrizzle(db)) return createExecutor(db.$client);
  if (isPostgresJs(db)) {
    assertNoPostgresJsTransform(db);
    return {
      async query<R>(text: string, values: readonly unknown[] = []) {
        return [...(await db.unsafe(text, [...values]))] as R[];
      },
    };
  }
  if (isPg(db)) {
    return {
      async query<R>(text: string, values: readonly unknown[] = []) {
        const result = await db.query(text, [...values]);
        // A SqlExecutor passed in directly already returns rows.
        return (Array.isArray(result) ? result : result.rows) as R[];
      },
    };
  }
  throw new TypeError(
    'pgflow-orm: unsupported connection; pass a pg Pool/Client, a postgres.js sql, a Drizzle database or a Kysely instance',
  );
}
