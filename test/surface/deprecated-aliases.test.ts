/**
 * The earlier names of the row types (`Run`, `FlowRecord`, `StepTask`, …,
 * declared as deprecated aliases in src/core/types.ts) stay exported so
 * existing apps compile, but the library itself uses the current names
 * (`RunRow`, `FlowRow`, `StepTaskRow`, …): no module of src/ imports an
 * alias from src/core/types.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';

const typesFile = join(repoRoot, 'src', 'core', 'types.ts');
const source = (path: string) => readFileSync(path, 'utf8');

/** The names src/core/types.ts declares as deprecated aliases: `/** @deprecated … *\/ export type Run = RunRow;`. */
const deprecatedAliases = [...source(typesFile).matchAll(/@deprecated[^*]*\*\/\s*export type (\w+) = \w+Row;/g)].map((match) => match[1]!);

function typeScriptFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return name === 'sql' && folder.endsWith('src') ? [] : typeScriptFiles(path);
    return /\.tsx?$/.test(name) ? [path] : [];
  });
}

/** `{ names }` imported by each `import … from '<specifier>'` of the file. */
function namedImports(text: string): { names: string[]; specifier: string }[] {
  return [...text.matchAll(/^import\s+(?:type\s+)?(?:\w+\s*,\s*)?\{([^}]*)\}\s*from\s*'([^']+)'/gm)].map((match) => ({
    names: match[1]!
      .split(',')
      .map((part) => part.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0]!)
      .filter(Boolean),
    specifier: match[2]!,
  }));
}

describe('deprecated row type aliases', () => {
  it('are the ten earlier names', () => {
    expect(deprecatedAliases.sort()).toEqual(['Dep', 'FlowRecord', 'RoleAccess', 'Run', 'Schedule', 'ScheduleTick', 'StepRecord', 'StepState', 'StepTask', 'Worker']);
  });

  it('are imported by no module of the library (it uses the …Row names)', () => {
    const uses: string[] = [];
    for (const file of typeScriptFiles(join(repoRoot, 'src'))) {
      for (const { names, specifier } of namedImports(source(file))) {
        if (!specifier.startsWith('.') || resolve(dirname(file), specifier.replace(/\.js$/, '.ts')) !== typesFile) continue;
        for (const name of names) if (deprecatedAliases.includes(name)) uses.push(`${relative(repoRoot, file)}: ${name}`);
      }
    }
    expect(uses).toEqual([]);
  });
});
