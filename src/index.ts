/**
 * pgflow-orm: a PostgreSQL-native DAG workflow engine (the pgflow 0.8.1 SQL
 * API), installed by the app's own migrator and queried with typed builders.
 */
export * from './core/types.js';
export * from './flow/index.js';
export * from './worker/index.js';
export * from './client/index.js';
export * from './scheduler/index.js';
export * from './retention/index.js';
export { toExecutor, type PgflowConnection, type SqlExecutor } from './core/connection.js';
export { PgflowSql, pgflowSql, type FlowOptions, type PruneCounts, type StartOptions, type StepOptions, type TaskCompletion, type TaskFailure } from './core/sql-api.js';
export { PgflowArgumentError } from './core/arguments.js';
export { migrationsFolder, MIGRATIONS_SCHEMA, MIGRATIONS_TABLE } from './migrations/index.js';
export { assertCompatibleSchema, compareVersions, PgflowSchemaVersionError, supportedSchemaVersion, type SchemaProblem } from './core/version.js';
export { PgflowAccessError, grantStatement } from './core/access.js';
