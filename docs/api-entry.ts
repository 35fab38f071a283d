/**
 * `pgflow-orm`: the flow DSL, the worker, the client, the scheduler,
 * retention, the typed SQL API (`pgflowSql`), the version and access checks,
 * and the row types of pgflow's tables.
 *
 * @module pgflow-orm
 */
// The API reference's name for the package's root entry point (src/index.ts): TypeDoc documents it through this file.
export * from '../src/index.js';
