/**
 * The advisory lock that serialises pgflow migrators. drizzle's migrator
 * takes no lock of its own, so app instances that start at once would
 * otherwise race to apply the same migrations. Every installer in the package
 * takes the same lock: `migratePgflow` (session lock, held across its
 * transaction), the Kysely migrations and the plain SQL release files
 * (transaction locks).
 */
/** The lock's key, as a SQL expression. */
export const LOCK_KEY = `hashtextextended('pgflow-orm:migrations', 0)`;

export const MIGRATION_LOCK_SQL = `select pg_advisory_lock(${LOCK_KEY})`;
export const MIGRATION_UNLOCK_SQL = `select pg_advisory_unlock(${LOCK_KEY})`;
/** Held until the surrounding transaction ends. */
export const MIGRATION_XACT_LOCK_SQL = `select pg_advisory_xact_lock(${LOCK_KEY})`;
