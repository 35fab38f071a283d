/**
 * The worker's source stays split by job: each module of src/worker is short
 * and opens with a comment saying what it does, and imports only point down
 * (the worker's parts never import the module that wires them, nothing in
 * src/worker imports the client, the CLI or the dashboard, and src/core
 * imports neither the worker nor the client).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';

const MAX_LINES = 300;
const workerDir = join(repoRoot, 'src', 'worker');
const modules = readdirSync(workerDir).filter((name) => name.endsWith('.ts')).sort();
const read = (folder: string, name: string) => readFileSync(join(repoRoot, 'src', folder, name), 'utf8');
/** The relative module specifiers a file imports or re-exports from. */
const importsOf = (text: string) => [...text.matchAll(/^(?:import|export)[^;]*?from '(\.[^']+)'/gm)].map((match) => match[1]!);
/** `./claim-loop.js` → `claim-loop.ts`; undefined for a module outside src/worker. */
const sibling = (specifier: string) => (specifier.startsWith('./') ? posix.basename(specifier).replace(/\.js$/, '.ts') : undefined);

describe('src/worker', () => {
  it.each(modules)(`%s has at most ${MAX_LINES} lines and opens with a comment saying its job`, (name) => {
    const text = read('worker', name);
    expect(text.split('\n').length - 1, name).toBeLessThanOrEqual(MAX_LINES);
    expect(text.startsWith('/**'), name).toBe(true);
  });

  it('imports only from src/core, src/flow, src/scheduler and its own modules', () => {
    for (const name of modules) {
      const outside = importsOf(read('worker', name)).filter((specifier) => !specifier.startsWith('./'));
      expect(outside.filter((specifier) => !/^\.\.\/(core|flow|scheduler)\//.test(specifier)), name).toEqual([]);
    }
  });

  it('has no import cycle, and only the entry points import worker.ts', () => {
    const edges = new Map(modules.map((name) => [name, importsOf(read('worker', name)).flatMap((specifier) => sibling(specifier) ?? [])]));
    const importersOfWorker = modules.filter((name) => edges.get(name)!.includes('worker.ts'));
    expect(importersOfWorker).toEqual(['index.ts', 'signals.ts']);
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (name: string, path: string[]) => {
      if (done.has(name)) return;
      expect(visiting.has(name), `import cycle: ${[...path, name].join(' → ')}`).toBe(false);
      visiting.add(name);
      for (const next of edges.get(name) ?? []) visit(next, [...path, name]);
      visiting.delete(name);
      done.add(name);
    };
    for (const name of modules) visit(name, []);
  });
});

describe('src/core', () => {
  it('imports neither the worker nor the client', () => {
    const files = readdirSync(join(repoRoot, 'src', 'core')).filter((name) => name.endsWith('.ts'));
    for (const name of files) {
      expect(importsOf(read('core', name)).filter((specifier) => /^\.\.\/(worker|client)\//.test(specifier)), name).toEqual([]);
    }
  });
});
