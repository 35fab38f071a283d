/**
 * The session advisory lock that serialises pgflow migrators. drizzle's
 * migrator takes no lock of its own, so app instances that start at once
 * would otherwise race to apply the same migrations.
 */
export const MIGRATION_LOCK_SQL = `select pg_advisory_lock(hashtextextended('pgflow-orm:migrations', 0))`;
export const MIGRATION_UNLOCK_SQL = `select pg_advisory_unlock(hashtextextended('pgflow-orm:migrations', 0))`;
