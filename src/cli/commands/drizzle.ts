/**
 * `pgflow-orm drizzle add`: writes pgflow's migrations that the app's own
 * drizzle-kit migrations folder does not have yet, so the app's single
 * `drizzle-kit migrate` installs and upgrades pgflow.
 */
import { relative } from 'node:path';
import type { Command } from 'commander';
import { addPgflowMigrations, type AppFolderLayout } from '../../migrations/app-folder.js';
import { CliError, type CliCommand } from '../command.js';

interface AddOptions {
  out: string;
  layout?: string;
  dryRun?: boolean;
}

export const drizzleCommand: CliCommand = {
  register(program: Command) {
    const drizzle = program.command('drizzle').description("pgflow in the app's own drizzle-kit migrations folder");
    drizzle
      .command('add')
      .description("add pgflow's migrations that the folder does not have yet (a no-op when it has them all)")
      .option('-o, --out <folder>', "the app's migrations folder (drizzle-kit's `out`)", './drizzle')
      .option('--layout <layout>', 'journal (drizzle-kit 0.x) or folders (drizzle-kit 1.0); detected by default')
      .option('--dry-run', 'only print what would be added')
      .action(async (options: AddOptions) => {
        if (options.layout !== undefined && options.layout !== 'journal' && options.layout !== 'folders') {
          throw new CliError(`--layout must be journal or folders (got ${options.layout})`);
        }
        const result = await addPgflowMigrations({ out: options.out, layout: options.layout as AppFolderLayout | undefined, dryRun: options.dryRun });
        const shown = (path: string) => relative(process.cwd(), path) || '.';
        for (const tag of result.modified) console.warn(`warning: ${tag} differs from the migration pgflow-orm ships`);
        if (result.added.length === 0) {
          console.log(`${shown(result.out)} already has pgflow's ${result.present.length} migrations; nothing to add`);
          return;
        }
        for (const added of result.added) console.log(`${options.dryRun ? 'would add' : 'added'} ${shown(added.path)} (a copy of pgflow-orm's ${added.source})`);
        if (!options.dryRun) console.log('Apply them with: npx drizzle-kit migrate');
      });
  },
};
