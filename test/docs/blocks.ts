/**
 * Fenced code blocks of the docs (docs/**\/*.md and README.md), in order,
 * with their info string and the line they start on, for the tests that
 * type-check the TypeScript blocks and run the getting-started pages.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../support/paths.js';

export interface CodeBlock {
  /** The page, relative to the repository root. */
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The first word of the info string (`ts`, `sh`, `sql`, …; '' for none). */
  lang: string;
  /** The rest of the info string, e.g. `fragment`. */
  flags: string[];
  code: string;
}

/** Every Markdown page of the docs site (generated API pages and build output left out), then README.md. */
export function docPages(): string[] {
  const walk = (folder: string): string[] =>
    readdirSync(folder)
      .sort()
      .flatMap((name) => {
        const path = join(folder, name);
        if (statSync(path).isDirectory()) return name === '.vitepress' || path.endsWith(join('reference', 'api')) ? [] : walk(path);
        return name.endsWith('.md') ? [relative(repoRoot, path)] : [];
      });
  return [...walk(join(repoRoot, 'docs')), 'README.md'];
}

export function codeBlocks(page: string): CodeBlock[] {
  const lines = readFileSync(join(repoRoot, page), 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = /^(\s*)(`{3,})(.*)$/.exec(lines[index]!);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let end = index + 1;
    while (end < lines.length && !lines[end]!.startsWith(`${indent}${fence}`)) body.push(lines[end++]!.slice(indent!.length));
    const [lang = '', ...flags] = info!.trim().split(/\s+/).filter(Boolean);
    blocks.push({ page, line: index + 1, lang, flags, code: body.join('\n') });
    index = end;
  }
  return blocks;
}

/** The file a block stands for, from its first line: `// src/db.ts` (TypeScript) or `-- flow.sql` (SQL). */
export function blockFile(block: CodeBlock): string | undefined {
  const first = block.code.split('\n')[0] ?? '';
  return /^(?:\/\/|--)\s+([\w./-]+\.(?:ts|sql|json))\s*$/.exec(first)?.[1];
}

/** The ```ts blocks of the `@example` tags in the library's sources (src/, the dashboard's front end left out). */
export function jsdocExamples(): CodeBlock[] {
  const walk = (folder: string): string[] =>
    readdirSync(folder)
      .sort()
      .flatMap((name) => {
        const path = join(folder, name);
        if (statSync(path).isDirectory()) return name === 'ui' ? [] : walk(path);
        return name.endsWith('.ts') ? [relative(repoRoot, path)] : [];
      });
  return walk(join(repoRoot, 'src')).flatMap((file) => {
    const lines = readFileSync(join(repoRoot, file), 'utf8').split('\n');
    const blocks: CodeBlock[] = [];
    for (let index = 0; index < lines.length; index++) {
      if (!/^\s*\* @example\s*$/.test(lines[index]!) || !/^\s*\* ```ts\s*$/.test(lines[index + 1] ?? '')) continue;
      const body: string[] = [];
      let end = index + 2;
      while (end < lines.length && !/^\s*\* ```\s*$/.test(lines[end]!)) body.push(lines[end++]!.replace(/^\s*\*( |$)/, ''));
      blocks.push({ page: file, line: index + 2, lang: 'ts', flags: [], code: body.join('\n') });
      index = end;
    }
    return blocks;
  });
}
