/**
 * The getting-started pages, followed as a new user would: in an empty app
 * with the packed package installed, each page's files are written and its
 * shell commands run in order against a fresh database, and every output
 * block right after a command block must be exactly what its last command
 * printed (a ```console block shows a sample and is not compared).
 *
 * `npm install` lines are not sent to the registry here (the gate installs
 * from lockfiles): the app is `test/apps/consumer`, installed from its
 * lockfile, and the test checks that each package a line names is there.
 * `npm run test:latest` runs those lines as written against the registry.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useFreshDatabases } from '../migrators/support/databases.js';
import { installedApp, removeWorkFolders, workFolder } from '../packed/support/apps.js';
import { repoRoot } from '../support/paths.js';
import { run } from '../support/processes.js';
import { blockFile, codeBlocks, type CodeBlock } from './blocks.js';

const freshDatabase = useFreshDatabases();
afterAll(removeWorkFolders);

/** The pages, with how many exact outputs each shows (a ```console block is a sample whose figures vary, not compared). */
const PAGES: [page: string, outputs: number][] = [
  ['docs/getting-started/index.md', 0],
  ['docs/getting-started/drizzle.md', 1],
  ['docs/getting-started/kysely.md', 1],
  ['docs/getting-started/sql.md', 2],
];

/** The shell commands of a block: one a line, comments and blank lines left out. */
function commands(block: CodeBlock): string[] {
  return block.code
    .split('\n')
    .map((line) => line.replace(/\s+#\s.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Packages an `npm install` line names (flags and versions left out), or undefined for any other command. */
function installedPackages(command: string): string[] | undefined {
  const words = command.split(/\s+/);
  if (words[0] !== 'npm' || !['install', 'i', 'add'].includes(words[1] ?? '')) return undefined;
  return words
    .slice(2)
    .filter((word) => !word.startsWith('-'))
    .map((word) => word.replace(/(?<=.)@[^/]*$/, ''));
}

/** Whether `pkg` resolves from the app folder, or is a tool on PATH from the repository's own (tsx). */
function available(folder: string, pkg: string): boolean {
  if (existsSync(join(folder, 'node_modules', pkg, 'package.json'))) return true;
  const fromRepo = createRequire(join(repoRoot, 'package.json'));
  return pkg === 'tsx' && existsSync(dirname(fromRepo.resolve('tsx/package.json')));
}

describe.each(PAGES)('%s', (page, outputs) => {
  it('runs as written: files, commands and the outputs it shows', async () => {
    const blocks = codeBlocks(page);
    const app = await installedApp('consumer');
    const folder = workFolder(app, { 'package.json': '{ "name": "my-app", "private": true, "type": "module" }\n' });
    const database = await freshDatabase();
    // The app's own bins come first, as for `npx`; the repository's bin folder provides `tsx`, which the page installs.
    const env = { DATABASE_URL: database.url, PATH: [process.env.PATH, join(repoRoot, 'node_modules', '.bin')].join(delimiter) };
    let ran = 0;
    let outputsChecked = 0;
    let last: { command: string; stdout: string } | undefined;
    for (const block of blocks) {
      const file = blockFile(block);
      if (file && (block.lang === 'ts' || block.lang === 'sql')) {
        mkdirSync(dirname(join(folder, file)), { recursive: true });
        writeFileSync(join(folder, file), `${block.code}\n`);
        last = undefined;
      } else if (block.lang === 'sh') {
        last = undefined;
        for (const command of commands(block)) {
          const packages = installedPackages(command);
          if (packages) {
            for (const pkg of packages) expect(available(folder, pkg), `${page}:${block.line}: ${pkg} (from \`${command}\`)`).toBe(true);
            continue;
          }
          const result = await run('bash', ['-c', command], { cwd: folder, env });
          expect(result.code, `${page}:${block.line}: \`${command}\` failed\n${result.stdout}\n${result.stderr}`).toBe(0);
          last = { command, stdout: result.stdout };
          ran++;
        }
      } else if ((block.lang === '' || block.lang === 'text') && last) {
        // Line by line without trailing blanks, which Markdown editors strip (psql pads its table headers).
        const lines = (text: string) => text.trimEnd().split('\n').map((line) => line.trimEnd());
        expect(lines(last.stdout), `${page}:${block.line}: the output of \`${last.command}\``).toEqual(lines(block.code));
        outputsChecked++;
        last = undefined;
      } else {
        last = undefined;
      }
    }
    expect(ran, 'commands run').toBeGreaterThanOrEqual(1);
    expect(outputsChecked, 'outputs compared').toBe(outputs);
  }, 300_000);
});
