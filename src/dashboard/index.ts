/**
 * pgflow-orm/dashboard: a web dashboard for the engine's flows, runs and
 * workers, as a Node `(req, res)` handler to serve on its own
 * (`npx pgflow-orm dashboard`) or mount in an app.
 *
 * ```ts
 * import { createDashboard } from 'pgflow-orm/dashboard';
 * app.use('/admin/pgflow', createDashboard({ pool, basePath: '/admin/pgflow' }));
 * ```
 *
 * @module pgflow-orm/dashboard
 */
export { createDashboard, type DashboardAccess, type DashboardHandler, type DashboardOptions } from './server/handler.js';
export { serveDashboard, type DashboardServer, type ServeDashboardOptions } from './server/serve.js';
export type * from './api-types.js';
