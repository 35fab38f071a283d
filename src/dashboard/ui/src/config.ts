/** The dashboard's config, which the server puts in the page's <meta name="pgflow-dashboard">. */
import type { DashboardConfig } from '../../api-types';

function readConfig(): DashboardConfig {
  const content = document.querySelector('meta[name="pgflow-dashboard"]')?.getAttribute('content');
  if (!content) return { basePath: '', csrfToken: '', actionsEnabled: false, version: '' };
  return JSON.parse(content) as DashboardConfig;
}

export const config = readConfig();

/** A path of the dashboard, under its mount path: `href('/runs')`. */
export const href = (path: string) => `${config.basePath}${path}`;
