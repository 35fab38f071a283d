/**
 * The front end's files, built by Vite into `dist/dashboard-ui/` of the
 * package (see src/dashboard/ui/vite.config.ts) and served from there:
 * nothing comes from a CDN. The page (index.html) gets the mount path as its
 * `<base href>` and the dashboard's config in a `<meta>` tag, both escaped;
 * hashed files under `assets/` are cached for a year.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DashboardConfig } from '../api-types.js';

/** The placeholder in index.html that the config replaces. */
export const CONFIG_PLACEHOLDER = '<meta name="pgflow-dashboard" content="">';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The package's root: the nearest folder above this module with pgflow-orm's package.json. */
function packageRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(folder, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pgflow-orm') return folder;
      } catch {
        // Not a readable manifest: keep looking upwards.
      }
    }
    const parent = dirname(folder);
    if (parent === folder) throw new Error('pgflow-orm dashboard: cannot find the package folder of pgflow-orm');
    folder = parent;
  }
}

/** Where the built front end is. */
export function defaultAssetsFolder(): string {
  return join(packageRoot(), 'dist', 'dashboard-ui');
}

/** Escapes text for an HTML attribute value or text node. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export class DashboardAssets {
  private template: string | undefined;

  constructor(readonly folder: string = defaultAssetsFolder()) {}

  private readTemplate(): string {
    if (this.template === undefined) {
      const path = join(this.folder, 'index.html');
      if (!existsSync(path)) {
        throw new Error(`the dashboard's front end is not built (no ${path}); in a checkout of pgflow-orm run \`npm run build:dashboard\``);
      }
      const html = readFileSync(path, 'utf8');
      if (!html.includes(CONFIG_PLACEHOLDER)) throw new Error(`${path} has no ${CONFIG_PLACEHOLDER} to put the dashboard's config in`);
      this.template = html;
    }
    return this.template;
  }

  /** Throws the "not built" error now rather than on the first request. */
  check(): void {
    this.readTemplate();
  }

  /** The page, with the mount path and the config filled in. */
  page(config: DashboardConfig): string {
    const head = `<base href="${escapeHtml(`${config.basePath}/`)}">\n    <meta name="pgflow-dashboard" content="${escapeHtml(JSON.stringify(config))}">`;
    return this.readTemplate().replace(CONFIG_PLACEHOLDER, () => head);
  }

  /** A file under `assets/`, or undefined when there is none with that name. */
  async file(name: string): Promise<StaticFile | undefined> {
    // Built file names only: no folders, no dot-files, nothing that could leave the folder.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) return undefined;
    const contentType = CONTENT_TYPES[extname(name)];
    if (!contentType) return undefined;
    try {
      return { body: await readFile(join(this.folder, 'assets', name)), contentType };
    } catch {
      return undefined;
    }
  }
}
