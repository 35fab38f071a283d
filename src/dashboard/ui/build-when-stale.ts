/**
 * Builds the dashboard's front end when dist/dashboard-ui is missing or
 * older than its sources (used before `npm start` and by the test suite's
 * set-up, so a fresh checkout needs no extra step). `npm run build:dashboard`
 * always builds.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const uiFolder = fileURLToPath(new URL('.', import.meta.url));
const outputPage = fileURLToPath(new URL('../../../dist/dashboard-ui/index.html', import.meta.url));
/** Shared with the server: what its type imports describe. */
const sharedTypes = fileURLToPath(new URL('../api-types.ts', import.meta.url));

function newestSource(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestSource(join(path, name))));
}

/** Whether the built front end is missing or older than a source file. */
export function dashboardBuildIsStale(): boolean {
  if (!existsSync(outputPage)) return true;
  return Math.max(newestSource(uiFolder), newestSource(sharedTypes)) > statSync(outputPage).mtimeMs;
}

/** Builds the front end with Vite if it is stale; resolves with whether it built. */
export async function buildDashboardWhenStale(): Promise<boolean> {
  if (!dashboardBuildIsStale()) return false;
  const { build } = await import('vite');
  await build({ configFile: join(uiFolder, 'vite.config.ts') });
  return true;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const built = await buildDashboardWhenStale();
  if (built) console.error('pgflow-orm: built the dashboard front end into dist/dashboard-ui');
}
