/**
 * schema.ts is the only description of the pgflow tables: the camelCase rows
 * (src/core/row-types.ts) and the Kysely tables (src/kysely/tables.ts) are
 * generated from it by `npm run db:row-types` and checked in. These tests fail
 * when a checked-in file differs from what the generator writes today, and
 * when the module graph between schema.ts and the library grows a cycle.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRowTypes, schemaTables } from '../../scripts/row-types.js';
import { repoRoot } from '../support/paths.js';

const importsOf = (file: string) => [...readFileSync(join(repoRoot, file), 'utf8').matchAll(/^(?:import|export)[^;]*?from '([^']+)'/gm)].map((match) => match[1]!);

describe('row types generated from schema.ts', () => {
  it('are up to date (run `npm run db:row-types` after changing schema.ts)', () => {
    for (const { file, text } of renderRowTypes()) {
      expect(readFileSync(file, 'utf8'), file).toBe(text);
    }
  });

  it('cover every pgflow table of schema.ts, column for column', () => {
    const tables = schemaTables();
    expect(tables.map((table) => table.name)).toEqual(['flows', 'steps', 'deps', 'runs', 'step_states', 'workers', 'step_tasks', 'schedules', 'schedule_ticks', 'role_access']);
    const [core, kysely] = renderRowTypes().map(({ text }) => text);
    for (const table of tables) {
      expect(core).toContain(`export interface ${table.entity}Row {`);
      for (const column of table.columns) {
        expect(core).toMatch(new RegExp(`^  ${column.key}: `, 'm'));
        expect(kysely).toMatch(new RegExp(`^  ${column.name}: `, 'm'));
      }
    }
  });

  it('document each row type: its table, where such rows come from, and an example', () => {
    const [core] = renderRowTypes().map(({ text }) => text);
    for (const table of schemaTables()) {
      const doc = new RegExp(`/\\*\\*\\n((?: \\*.*\\n)+) \\*/\\nexport interface ${table.entity}Row \\{`).exec(core!)?.[1] ?? '';
      expect(doc, `${table.entity}Row`).toContain(`\`pgflow.${table.name}\``);
      expect(doc, `${table.entity}Row`).toMatch(/ \* @example\n \* ```ts\n[\s\S]*?\n \* ```\n$/);
      expect(doc.slice(doc.indexOf('@example')), `${table.entity}Row's example uses it`).toMatch(new RegExp(`\\b${table.entity}Row\\b`));
    }
  });

  it('need neither drizzle-orm nor schema.ts (a Kysely-only app compiles them)', () => {
    for (const file of ['src/core/row-types.ts', 'src/kysely/tables.ts', 'src/kysely/columns.ts', 'src/kysely/types.ts', 'src/core/types.ts']) {
      expect(importsOf(file).filter((from) => from.startsWith('drizzle-orm') || from.includes('schema')), file).toEqual([]);
    }
  });

  it('leave no cycle: schema.ts imports only the leaf module of value sets, which imports nothing', () => {
    expect(importsOf('schema.ts').filter((from) => from.startsWith('.'))).toEqual(['./src/core/enums.js', './src/core/enums.js']);
    expect(importsOf('src/core/enums.ts')).toEqual([]);
  });
});
