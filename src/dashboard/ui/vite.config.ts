/**
 * Builds the dashboard's front end (Preact, TypeScript) into the package's
 * dist/dashboard-ui/, which the handler serves (src/dashboard/server/assets.ts).
 * Run by `npm run build:dashboard` (part of `npm run build`, which `prepack`
 * runs), so the published package ships the built files and nothing is
 * fetched at run time.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  // Asset URLs stay relative: the handler sets <base href> to wherever it is mounted.
  base: './',
  logLevel: 'warn',
  publicDir: false,
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/dashboard-ui', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // Everything in files of its own: the Content-Security-Policy allows no inline script or style.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
