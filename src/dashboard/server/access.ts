/**
 * What the dashboard's database role needs: pgflow's reader access level to
 * read everything it shows (`select pgflow.grant_reader('<role>')`), and the
 * admin level for the run-control actions. A read refused with "permission
 * denied" becomes a 403 whose message names the role and the statement that
 * grants the reader level.
 */
import { accessError, isPermissionDenied } from '../../core/access.js';
import type { SqlExecutor } from '../../core/connection.js';
import { HttpError } from './errors.js';

/** Runs a read of the dashboard; a permission error becomes a 403 saying which level to grant. */
export async function asReader<T>(db: SqlExecutor, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (!isPermissionDenied(error)) throw error;
    const explained = (await accessError(db, error, 'reader', 'read what the dashboard shows')) as Error;
    throw new HttpError(403, explained.message);
  }
}
