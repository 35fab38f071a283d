/**
 * The CLI's commands, one module each. To add a command, write
 * `./<name>.ts` exporting a `CliCommand` and list it here.
 */
import type { CliCommand } from '../command.js';
import { drizzleCommand } from './drizzle.js';
import { migrateCommand } from './migrate.js';
import { sqlCommand } from './sql.js';
import { uninstallCommand } from './uninstall.js';

export const commands: readonly CliCommand[] = [migrateCommand, drizzleCommand, sqlCommand, uninstallCommand];
