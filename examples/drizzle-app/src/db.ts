import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { pgflowSchema } from 'pgflow-orm/drizzle';

export const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });

/** The app's Drizzle database; pgflow's tables sit next to the app's own. */
export const db = drizzle(pool, { schema: { ...pgflowSchema } });
