/**
 * `pgflow-orm sql`: the plain SQL release files, for psql or another
 * migrator. Without arguments it lists the releases; with a version it
 * prints that release's SQL; with `--from` it prints every release after an
 * installed version, in order; with `--uninstall`, the SQL that removes pgflow.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Command } from 'commander';
import { packageRoot, packageVersion, readMigrations, sqlReleaseFile } from '../../migrations/index.js';
import { renderReleaseSql } from '../../migrations/plain-sql.js';
import { renderUninstallSql } from '../../migrations/uninstall.js';
import { readReleaseManifest, releaseGroups, type ReleaseGroup } from '../../migrations/releases.js';
import { CliError, type CliCommand } from '../command.js';

function releases(): ReleaseGroup[] {
  return releaseGroups(readMigrations(), readReleaseManifest(), packageVersion());
}

/** The shipped file of a release; rendered from the migrations for the one not released yet. */
function releaseSql(groups: ReleaseGroup[], index: number): string {
  const group = groups[index]!;
  const file = sqlReleaseFile(group.version);
  if (group.released && existsSync(file)) return readFileSync(file, 'utf8');
  return renderReleaseSql(group, groups[index - 1]);
}

export const sqlCommand: CliCommand = {
  register(program: Command) {
    program
      .command('sql')
      .description('list the plain SQL release files, or print one (`sql <version>`) or every one after a version (`--from`)')
      .argument('[version]', 'the release to print')
      .option('--from <version>', 'print the releases after this installed version, in order')
      .option('--uninstall', 'print the SQL that removes pgflow instead')
      .action((version: string | undefined, options: { from?: string; uninstall?: boolean }) => {
        if (options.uninstall) {
          process.stdout.write(renderUninstallSql());
          return;
        }
        const groups = releases();
        const find = (wanted: string) => {
          const index = groups.findIndex((group) => group.version === wanted);
          if (index < 0) throw new CliError(`no pgflow-orm release ${wanted}; releases: ${groups.map((group) => group.version).join(', ')}`);
          return index;
        };
        if (options.from !== undefined) {
          const start = find(options.from) + 1;
          const end = version === undefined ? groups.length : find(version) + 1;
          for (let index = start; index < end; index++) process.stdout.write(releaseSql(groups, index));
          return;
        }
        if (version !== undefined) {
          process.stdout.write(releaseSql(groups, find(version)));
          return;
        }
        for (const group of groups) {
          const file = sqlReleaseFile(group.version);
          const where = group.released && existsSync(file) ? relative(packageRoot, file) : 'not released yet (printed from the migrations)';
          console.log(`${group.version}\t${where}`);
        }
      });
  },
};
