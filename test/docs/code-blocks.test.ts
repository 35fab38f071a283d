/**
 * Docs cannot rot: every ```ts block of docs/**\/*.md and README.md is
 * type-checked against the package's sources, with `pgflow-orm`,
 * `pgflow-orm/drizzle`, `pgflow-orm/kysely`, … mapped to them as an app
 * would import the package. Blocks that name a file in their first line
 * (`// src/db.ts`) are written to that path in their page's folder, so a
 * page's files import each other; every other block is a module of its own.
 *
 * A handful of names the docs take as given (an app's `pool`, `db`, …) are
 * declared once in `prelude.d.ts` below. A block flagged ```ts fragment is
 * left out (each says why in the text around it); ```ts drizzle-1 blocks
 * are checked against drizzle-orm 1.0 and `pgflow-orm/drizzle-1`. The
 * `@example` blocks of the sources' JSDoc (what the API reference shows) are
 * checked the same way.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/paths.js';
import { run } from '../support/processes.js';
import { blockFile, codeBlocks, docPages, jsdocExamples, type CodeBlock } from './blocks.js';

const workRoot = join(repoRoot, '.tmp', `docs-code-blocks-${process.pid}`);
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

/** The prelude: drizzle-1 blocks make their own database, so theirs has no `db` (typed with drizzle-orm 0.x). */
function prelude(drizzle1: boolean): string {
  const drizzle = drizzle1
    ? []
    : [
        "import type { NodePgDatabase } from 'drizzle-orm/node-postgres';",
        "import type { pgflowSchema } from 'pgflow-orm/drizzle';",
        '',
        'declare global {',
        "  /** The app's Drizzle database on that pool (blocks that use Kysely declare their own `db`). */",
        '  const db: NodePgDatabase<typeof pgflowSchema> & { $client: pg.Pool };',
        '}',
      ];
  return [
    "// Names the docs' examples take as given, as an app around them would have them.",
    "import type pg from 'pg';",
    "import type { AnyFlow, PgflowClient } from 'pgflow-orm';",
    ...drizzle,
    '',
    'declare global {',
    "  /** The app's node-postgres pool. */",
    '  const pool: pg.Pool;',
    '  /** A client from `createClient`. */',
    '  const client: PgflowClient;',
    '  /** A flow of the app, for examples that only pass one along. */',
    '  const scrape: AnyFlow;',
    '}',
    'export {};',
    '',
  ].join('\n');
}

const sources = (path: string) => join(repoRoot, path);

function tsconfig(drizzle1: boolean): string {
  const paths: Record<string, string[]> = {
    'pgflow-orm': [sources('src/index.ts')],
    'pgflow-orm/drizzle': [sources('src/drizzle/index.ts')],
    'pgflow-orm/drizzle-1': [sources('src/drizzle-1/index.ts')],
    'pgflow-orm/kysely': [sources('src/kysely/index.ts')],
    'pgflow-orm/dashboard': [sources('src/dashboard/index.ts')],
    'pgflow-orm/schema': [sources('schema.ts')],
  };
  // The repository's Kysely is 0.28, which exports the Migrator from 'kysely'; 0.29 (which the docs show) from 'kysely/migration'.
  paths['kysely/migration'] = [sources('node_modules/kysely/dist/esm/index.d.ts')];
  if (drizzle1) {
    paths['drizzle-orm'] = [sources('node_modules/drizzle-orm-1/index.d.ts')];
    paths['drizzle-orm/*'] = [sources('node_modules/drizzle-orm-1/*.d.ts')];
  }
  return JSON.stringify(
    {
      extends: sources('tsconfig.json'),
      compilerOptions: { noEmit: true, noUnusedLocals: false, paths, types: ['node'] },
      include: ['**/*.ts'],
      files: [],
    },
    null,
    2,
  );
}

interface Checked {
  block: CodeBlock;
  file: string;
}

/** Writes the blocks of one project (plain, or drizzle-1) and runs tsc over them. */
async function check(project: string, blocks: CodeBlock[], drizzle1: boolean): Promise<{ output: string; files: Checked[] }> {
  const folder = join(workRoot, project);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'tsconfig.json'), tsconfig(drizzle1));
  writeFileSync(join(folder, 'prelude.d.ts'), prelude(drizzle1));
  const files: Checked[] = blocks.map((block) => {
    const pageFolder = block.page.replace(/\.md$/, '').replace(/[^\w]+/g, '_');
    const named = blockFile(block);
    const file = join(pageFolder, named ?? `block-${block.line}.ts`);
    mkdirSync(join(folder, file, '..'), { recursive: true });
    // `export {}` keeps every block a module, so its names are its own.
    writeFileSync(join(folder, file), `${block.code}\nexport {};\n`);
    return { block, file };
  });
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await run(process.execPath, [tsc, '-p', folder, '--pretty', 'false'], { cwd: folder });
  return { output: `${result.stdout}${result.stderr}`.trim(), files };
}

/** tsc's errors, each pointed back at the page and line it comes from. */
function explain(output: string, files: Checked[]): string {
  return output
    .split('\n')
    .map((line) => {
      const match = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
      const source = match && files.find((checked) => match[1]!.endsWith(checked.file));
      return source ? `${source.block.page}:${source.block.line + Number(match![2])}: ${match![4]}` : line;
    })
    .join('\n');
}

const allBlocks = docPages().flatMap((page) => codeBlocks(page)).filter((block) => block.lang === 'ts' || block.lang === 'typescript');
const examples = jsdocExamples();

describe('the TypeScript blocks of the docs and the README', () => {
  it('are many, and only a few are left out as fragments', () => {
    const fragments = allBlocks.filter((block) => block.flags.includes('fragment'));
    expect(allBlocks.length).toBeGreaterThanOrEqual(25);
    expect(fragments.length, fragments.map((block) => `${block.page}:${block.line}`).join(', ')).toBeLessThanOrEqual(3);
  });

  it('type-check against the package', async () => {
    const checked = allBlocks.filter((block) => !block.flags.includes('fragment'));
    const plain = checked.filter((block) => !block.flags.includes('drizzle-1'));
    const drizzle1 = checked.filter((block) => block.flags.includes('drizzle-1'));
    for (const [project, blocks, isDrizzle1] of [['plain', plain, false], ['drizzle-1', drizzle1, true]] as const) {
      if (blocks.length === 0) continue;
      const { output, files } = await check(project, blocks, isDrizzle1);
      expect(explain(output, files), `tsc over ${blocks.length} blocks (${project})`).toBe('');
    }
  }, 240_000);

  it("and the @example blocks of the sources' JSDoc type-check the same way", async () => {
    expect(examples.length).toBeGreaterThanOrEqual(30);
    const { output, files } = await check('jsdoc', examples, false);
    expect(explain(output, files), `tsc over ${examples.length} @example blocks`).toBe('');
  }, 240_000);

  it('a block that does not type-check is reported with its page and line', async () => {
    const broken: CodeBlock = { page: 'docs/broken.md', line: 10, lang: 'ts', flags: [], code: "import { startWorker } from 'pgflow-orm';\nawait startWorker({ flows: 'not an array' });" };
    const { output, files } = await check('broken', [broken], false);
    expect(explain(output, files)).toMatch(/^docs\/broken\.md:12: error TS\d+: /m);
  }, 240_000);
});
