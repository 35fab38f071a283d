/**
 * The CLI's commands, one module each. To add a command, write
 * `./<name>.ts` exporting a `CliCommand` and list it here.
 */
import type { CliCommand } from '../command.js';
import { citusCommand } from './citus.js';
import { compileCommand } from './compile.js';
import { dashboardCommand } from './dashboard.js';
import { demoCommand } from './demo.js';
import { drizzleCommand } from './drizzle.js';
import { flowsCommand } from './flows.js';
import { migrateCommand } from './migrate.js';
import { pruneCommand } from './prune.js';
import { runsCommand } from './runs.js';
import { schedulerCommand } from './scheduler.js';
import { schedulesCommand } from './schedules.js';
import { sqlCommand } from './sql.js';
import { statusCommand } from './status.js';
import { uninstallCommand } from './uninstall.js';
import { workerCommand } from './worker.js';

export const commands: readonly CliCommand[] = [
  migrateCommand,
  drizzleCommand,
  sqlCommand,
  uninstallCommand,
  statusCommand,
  runsCommand,
  flowsCommand,
  schedulesCommand,
  workerCommand,
  schedulerCommand,
  pruneCommand,
  citusCommand,
  compileCommand,
  dashboardCommand,
  demoCommand,
];
