/**
 * Builds the `pgflow-orm` program from the registered command modules and
 * runs it. Errors a command raises for the user (`CliError` and the
 * package's own errors) are printed as one line, without a stack trace.
 */
import { Command, CommanderError } from 'commander';
import { packageVersion } from '../migrations/index.js';
import { CliError } from './command.js';
import { commands } from './commands/index.js';

export function createProgram(): Command {
  const program = new Command('pgflow-orm')
    .description('pgflow-orm: a PostgreSQL-native DAG workflow engine, installed by your migrator')
    .version(packageVersion(), '-v, --version', 'print the pgflow-orm version')
    .showHelpAfterError()
    .exitOverride();
  for (const command of commands) command.register(program);
  return program;
}

/** Error names whose message is meant for the user as it is. */
const USER_ERRORS = new Set(['CliError', 'AppFolderError', 'FlowDriftError', 'FlowDefinitionError', 'PgflowMigrationError', 'PgflowSchemaVersionError']);

/** Runs the CLI with `argv` (as in `process.argv`) and resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const message = error instanceof Error ? error.message : String(error);
    if (error instanceof Error && USER_ERRORS.has(error.name)) {
      console.error(`pgflow-orm: ${message}`);
      return error instanceof CliError ? error.exitCode : 1;
    }
    console.error(error);
    return 1;
  }
}
