/**
 * Which pgflow the database has: `pgflow.version()` (null when pgflow is not
 * installed) and the version this pgflow-orm works with. The dashboard shows
 * both and reads any version: it only reads columns every version has.
 */
import type { SqlExecutor } from '../../../core/connection.js';
import { supportedSchemaVersion } from '../../../core/version.js';
import type { PgflowInfo } from '../../api-types.js';

export async function readPgflowInfo(db: SqlExecutor): Promise<PgflowInfo> {
  const supported = supportedSchemaVersion();
  const [present] = await db.query<{ present: boolean }>(
    `select to_regprocedure('pgflow.version()') is not null and to_regclass('pgflow.runs') is not null as present`,
  );
  if (!present?.present) return { installed: null, supported };
  // A function is resolved when the statement is planned, so the version is read only once it is known to exist.
  const [row] = await db.query<{ version: string }>('select pgflow.version() as version');
  return { installed: row?.version ?? null, supported };
}
