/**
 * One database connection for a command: connects with `--database-url` (or
 * DATABASE_URL), turns connection failures and a database without pgflow into
 * one-line errors, and closes the connection afterwards.
 */
import pg from 'pg';
import { CliError, resolveDatabaseUrl } from '../../command.js';
import { connectionProblem } from './options.js';

/** undefined_table / invalid_schema_name / undefined_function: pgflow is not installed here. */
const NOT_INSTALLED = new Set(['42P01', '3F000', '42883']);

export async function withDatabase<T>(databaseUrl: string | undefined, applicationName: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = resolveDatabaseUrl(databaseUrl);
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  try {
    await client.connect();
  } catch (error) {
    throw connectionProblem(error, url);
  }
  try {
    return await use(client);
  } catch (error) {
    if (NOT_INSTALLED.has((error as { code?: string }).code ?? '')) throw new CliError('pgflow is not installed in this database; install it with `pgflow-orm migrate` or your migrator');
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}
