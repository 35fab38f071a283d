/**
 * The pgflow-orm dashboard mounted in an Express app at /admin/pgflow.
 * See main.ts for starting it.
 */
import express from 'express';
import pg from 'pg';
import { createDashboard, type DashboardOptions } from 'pgflow-orm/dashboard';

/** `options`: more dashboard options, e.g. `{ allowActions: true, authorize }`. */
export function createApp(pool: pg.Pool, options: Omit<DashboardOptions, 'pool' | 'basePath'> = {}) {
  const app = express();
  const dashboard = createDashboard({ ...options, pool, basePath: '/admin/pgflow' });
  // Put your own login in front of it (an auth middleware, or `authorize`): it shows every run's input and output.
  app.use('/admin/pgflow', dashboard);
  app.get('/', (_req, res) => {
    res.send('<a href="/admin/pgflow/">pgflow dashboard</a>');
  });
  return { app, dashboard };
}

