/**
 * Runs once per `vitest run`: builds the dashboard's front end into
 * dist/dashboard-ui when it is missing or older than its sources, so the
 * dashboard tests serve the current pages.
 */
import { buildDashboardWhenStale } from '../../src/dashboard/ui/build-when-stale.js';

export default async function setup() {
  if (await buildDashboardWhenStale()) console.log('[pgflow-orm tests] built the dashboard front end (dist/dashboard-ui)');
}
