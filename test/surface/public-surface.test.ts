/**
 * The public surface of the package's entry points, pinned: every name each
 * entry exports, as the TypeScript compiler sees it from the entry file
 * (value or type), and the names the module really exports at run time. A
 * change to either fails here until the snapshot is updated on purpose
 * (`npx vitest run --config test/vitest.config.ts test/surface -u`).
 */
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';

const ENTRIES = {
  'pgflow-orm': 'src/index.ts',
  'pgflow-orm/drizzle': 'src/drizzle/index.ts',
  'pgflow-orm/kysely': 'src/kysely/index.ts',
  'pgflow-orm/dashboard': 'src/dashboard/index.ts',
} as const;

type Entry = keyof typeof ENTRIES;

const files = Object.values(ENTRIES).map((file) => join(repoRoot, file));
const program = ts.createProgram(files, {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();

/** `name: value` or `name: type` for each export of the entry, sorted. */
function declaredExports(entry: Entry): string[] {
  const source = program.getSourceFile(join(repoRoot, ENTRIES[entry]))!;
  const module = checker.getSymbolAtLocation(source)!;
  return checker
    .getExportsOfModule(module)
    .map((symbol) => {
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      const kind = target.flags & ts.SymbolFlags.Value ? (target.flags & ts.SymbolFlags.Type ? 'value and type' : 'value') : 'type';
      return `${symbol.name}: ${kind}`;
    })
    .sort();
}

const surface = () => Object.fromEntries((Object.keys(ENTRIES) as Entry[]).map((entry) => [entry, declaredExports(entry)]));

describe('the public surface', () => {
  it('is the pinned list of names for each entry point', async () => {
    await expect(`${JSON.stringify(surface(), null, 2)}\n`).toMatchFileSnapshot('./public-surface.json');
  });

  it.each(Object.keys(ENTRIES) as Entry[])('%s exports at run time exactly its declared values', async (entry) => {
    const module = (await import(join(repoRoot, ENTRIES[entry]))) as Record<string, unknown>;
    const declaredValues = declaredExports(entry)
      .filter((line) => line.includes('value'))
      .map((line) => line.slice(0, line.indexOf(':')));
    expect(Object.keys(module).sort()).toEqual(declaredValues);
  });

  it('keeps internals out of the root entry', () => {
    const names = declaredExports('pgflow-orm').map((line) => line.slice(0, line.indexOf(':')));
    for (const internal of ['sqlLiteral', 'backoffDelay', 'NotificationListener', 'childLogger', 'toExecutor', 'runDemo', 'startEmbeddedPostgres']) {
      expect(names).not.toContain(internal);
    }
    expect(names.length).toBeLessThan(120);
  });
});
