/**
 * Loads the user's module that defines flows (for `worker` and `compile`)
 * and collects the flows it exports.
 *
 * `.js` / `.mjs` / `.cjs` modules are imported as they are. TypeScript
 * modules (`.ts`, `.mts`, `.cts`) import as they are when a TypeScript loader
 * is active (the command runs under `tsx`, or Node strips types itself);
 * otherwise the project's own `tsx` is registered, when it has one.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { collectFlows } from '../../../flow/collect.js';
import type { AnyFlow } from '../../../flow/flow.js';
import { CliError } from '../../command.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

let tsxRegistered = false;

/** Registers the tsx loader installed in the project at `cwd`; false when it has none. */
async function registerTsx(cwd: string): Promise<boolean> {
  if (tsxRegistered) return true;
  let entry: string;
  try {
    entry = createRequire(join(cwd, 'package.json')).resolve('tsx');
  } catch {
    return false;
  }
  await import(pathToFileURL(entry).href);
  tsxRegistered = true;
  return true;
}

const errorCode = (error: unknown) => (error as { code?: string } | null)?.code;

/** Imports the module at `specifier` (a path, relative to the working directory). */
export async function importUserModule(specifier: string, cwd = process.cwd()): Promise<Record<string, unknown>> {
  const path = resolve(cwd, specifier);
  if (!existsSync(path) || !statSync(path).isFile()) throw new CliError(`cannot find the module ${specifier} (no file ${path})`);
  const url = pathToFileURL(path).href;
  const shown = relative(cwd, path) || path;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if (TYPESCRIPT.has(extname(path)) && errorCode(error) === 'ERR_UNKNOWN_FILE_EXTENSION') {
      // Node remembers the failed load of this URL: import it again under a new one.
      if (await registerTsx(cwd)) return (await import(`${url}?tsx`)) as Record<string, unknown>;
      throw new CliError(
        `cannot import ${shown}: Node cannot load TypeScript by itself. Install tsx in the project (npm install --save-dev tsx), ` +
          `run the command under it (npx tsx node_modules/pgflow-orm/dist/src/cli/main.js ...), or point it at the compiled .js module`,
      );
    }
    if (errorCode(error) === 'ERR_MODULE_NOT_FOUND' || errorCode(error) === 'ERR_UNSUPPORTED_DIR_IMPORT') {
      throw new CliError(`cannot import ${shown}: ${(error as Error).message}`);
    }
    // An error raised by the module's own code: keep its stack.
    throw error;
  }
}

/**
 * The flows `specifier` exports (see collectFlows), optionally only those
 * named in `only`. Fails when there are none, or a named one is missing.
 */
export async function loadFlows(specifier: string, only?: readonly string[]): Promise<AnyFlow[]> {
  const exports = await importUserModule(specifier);
  let flows: AnyFlow[];
  try {
    flows = collectFlows(exports);
  } catch (error) {
    throw new CliError(`${specifier}: ${(error as Error).message}`);
  }
  if (flows.length === 0) {
    throw new CliError(`${specifier} exports no flows (export the Flow objects, as named exports, the default export, or an array / object of them)`);
  }
  if (only && only.length > 0) {
    const bySlug = new Map(flows.map((flow) => [flow.slug, flow]));
    const missing = only.filter((slug) => !bySlug.has(slug));
    if (missing.length > 0) {
      throw new CliError(`${specifier} exports no flow ${missing.map((slug) => `"${slug}"`).join(', ')}; it exports ${flows.map((flow) => `"${flow.slug}"`).join(', ')}`);
    }
    flows = [...new Set(only)].map((slug) => bySlug.get(slug)!);
  }
  return flows;
}
