/**
 * The pgflow-orm dashboard mounted in a Fastify app at /admin/pgflow.
 * See main.ts for starting it.
 */
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import pg from 'pg';
import { createDashboard, type DashboardOptions } from 'pgflow-orm/dashboard';

/** `options`: more dashboard options, e.g. `{ allowActions: true, authorize }`. */
export function createApp(pool: pg.Pool, options: Omit<DashboardOptions, 'pool' | 'basePath'> = {}) {
  const app = Fastify();
  const dashboard = createDashboard({ ...options, pool, basePath: '/admin/pgflow' });
  app.register(async (scope) => {
    // The dashboard reads request bodies itself: leave them unparsed in this scope.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
    // Hand Node's request and response to the dashboard, which answers (and streams live updates) itself.
    const serve = (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      dashboard(request.raw, reply.raw);
    };
    scope.all('/admin/pgflow', serve);
    scope.all('/admin/pgflow/*', serve);
  });
  app.addHook('onClose', () => dashboard.close());
  return app;
}

