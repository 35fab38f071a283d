import { migratePgflow } from 'pgflow-orm/drizzle';
import { db } from './db.js';

/** Installs pgflow, or upgrades it after a package upgrade; safe to run from every instance at start-up. */
export async function migrate(): Promise<void> {
  const { applied, version } = await migratePgflow(db);
  console.log(applied.length > 0 ? `installed pgflow ${version} (${applied.join(', ')})` : `pgflow ${version} is up to date`);
}
