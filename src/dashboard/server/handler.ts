/**
 * createDashboard: the dashboard as a plain Node `(req, res)` handler, to
 * serve with node:http or mount in Express, Fastify, Hono (node-server) or
 * any framework that hands over Node's request and response.
 *
 * It serves the built front end (see ./assets.ts), the JSON API the pages
 * read (./views.ts), the live stream (./live.ts) and, only with
 * `allowActions`, the run-control actions (./actions.ts), which also need
 * `authorize(req)` to allow them and a CSRF token (./csrf.ts). Pages for a
 * flow or run that does not exist are answered with 404.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type pg from 'pg';
import type { PgflowConnection } from '../../core/connection.js';
import { silentLogger, type Logger } from '../../flow/logger.js';
import { packageVersion } from '../../migrations/index.js';
import type { DashboardConfig } from '../api-types.js';
import { asReader } from './access.js';
import { findAction, readActions, runAction } from './actions.js';
import { DashboardAssets } from './assets.js';
import { openDashboardDatabase } from './connection.js';
import { CsrfTokens } from './csrf.js';
import { badRequest, forbidden, HttpError, notFound } from './errors.js';
import { LiveHub } from './live.js';
import { readFlowDefinition } from './queries/flow.js';
import { checkRunId, parseValuePart, readRunValue } from './queries/run.js';
import { parseRunsQuery } from './queries/runs-list.js';
import { securityHeaders, sendError, sendJson, sendText } from './respond.js';
import { matchRoute, type Route } from './routes.js';
import { loadView, parseViewSpec, parseWindow } from './views.js';

/** What a request wants, as `authorize` is told. */
export type DashboardAccess = { kind: 'view' } | { kind: 'action'; action: string };

export interface DashboardOptions {
  /** A connection string: the dashboard opens (and `close()` ends) a small pool of its own. */
  connectionString?: string;
  /** A node-postgres pool: queries and the LISTEN connection for live updates come from it. */
  pool?: pg.Pool;
  /**
   * Any connection the package supports (Drizzle, Kysely, postgres.js, pg). Drizzle on a pg.Pool and
   * postgres.js also provide live updates; with Kysely or a single pg.Client pass `pool` or
   * `connectionString` too.
   */
  db?: PgflowConnection;
  /** The path the handler is mounted under, e.g. `/admin/pgflow` (default: the root). */
  basePath?: string;
  /**
   * Offer run-control actions (cancel, retry, pause, resume) where the database has them and the
   * dashboard's database role may call them (pgflow's admin level). Needs `authorize`. Default false.
   */
  allowActions?: boolean;
  /**
   * Decides whether a request may see the dashboard (`{ kind: 'view' }`) or run an action
   * (`{ kind: 'action', action }`); a false answer is a 403. Required with `allowActions`.
   */
  authorize?: (req: IncomingMessage, access: DashboardAccess) => boolean | Promise<boolean>;
  /** Where problems reading the database or listening are logged (default: nowhere). */
  logger?: Logger;
  /** The folder of the built front end (default: the package's `dist/dashboard-ui`). */
  assetsFolder?: string;
}

/** A Node request handler; Express's `next` is called for paths outside `basePath`. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): void;
  /** Ends live connections and the LISTEN connection, and the pool the dashboard opened itself. */
  close(): Promise<void>;
  readonly basePath: string;
}

const BASE_PATH = /^(\/[A-Za-z0-9._~-]+)*$/;
/** Largest POST body accepted (an action names one run or flow). */
const MAX_BODY_BYTES = 16 * 1024;

/** `/admin/pgflow/` → `/admin/pgflow`; `/` → ''. */
export function normaliseBasePath(basePath: string | undefined): string {
  const trimmed = (basePath ?? '').replace(/\/+$/, '');
  if (trimmed !== '' && !BASE_PATH.test(trimmed)) {
    throw new TypeError(`createDashboard: basePath must be a path such as /admin/pgflow (letters, digits, . _ ~ -), got ${JSON.stringify(basePath)}`);
  }
  return trimmed;
}

/** The request's path below `basePath` (starting with "/"), or undefined when it is outside. */
function pathBelow(req: IncomingMessage, basePath: string): { path: string; params: URLSearchParams } | undefined {
  // Express strips its mount path from req.url and keeps the whole URL in req.originalUrl.
  const raw = (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url ?? '/';
  const url = new URL(raw, 'http://dashboard.invalid');
  const path = url.pathname;
  if (basePath === '') return { path, params: url.searchParams };
  if (path !== basePath && !path.startsWith(`${basePath}/`)) return undefined;
  return { path: path.slice(basePath.length) || '/', params: url.searchParams };
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'send the action as JSON (content-type: application/json)');
  // A body parser in front of the dashboard (express.json(), say) has read the body already.
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined && typeof parsed === 'object') return parsed;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'the request body is too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
  } catch {
    throw badRequest('the request body is not valid JSON');
  }
}

/**
 * The dashboard as a Node request handler `(req, res, next?)`, to mount under `basePath` in any framework that hands over Node's request and response (Express, Fastify with `reply.hijack()`, node:http). `handler.close()` ends its live streams, its LISTEN connection and the pool it opened itself.
 *
 * @example
 * ```ts
 * import http from 'node:http';
 * import { createDashboard } from 'pgflow-orm/dashboard';
 *
 * const dashboard = createDashboard({ pool, basePath: '/pgflow' });
 * http.createServer((req, res) => (req.url?.startsWith('/pgflow') ? dashboard(req, res) : res.end('my app'))).listen(3000, '127.0.0.1');
 * ```
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const basePath = normaliseBasePath(options.basePath);
  const allowActions = options.allowActions === true;
  if (allowActions && typeof options.authorize !== 'function') {
    throw new TypeError('createDashboard: allowActions needs authorize(req, access), which decides who may cancel, retry, pause or resume');
  }
  const logger = options.logger ?? silentLogger;
  const database = openDashboardDatabase(options, logger);
  const db = database.executor;
  const hub = new LiveHub(db, database.notifications, logger);
  const assets = new DashboardAssets(options.assetsFolder);
  const csrf = new CsrfTokens();
  const version = packageVersion();

  async function allowed(req: IncomingMessage, access: DashboardAccess): Promise<boolean> {
    if (!options.authorize) return true;
    return (await options.authorize(req, access)) === true;
  }

  /** The status a page is served with: 404 for a flow or run that does not exist. */
  async function pageStatus(route: Extract<Route, { kind: 'page' }>): Promise<{ status: number; reason?: string }> {
    try {
      if (route.page === 'unknown') return { status: 404, reason: 'no such page' };
      if (route.page === 'flow' && !(await readFlowDefinition(db, route.flow))) return { status: 404, reason: 'no such flow' };
      if (route.page === 'run') {
        const [row] = await db.query('select 1 from pgflow.runs where run_id = $1::uuid', [checkRunId(route.runId)]);
        if (!row) return { status: 404, reason: 'no such run' };
      }
    } catch (error) {
      if (error instanceof HttpError) return { status: error.status, reason: error.message };
      // The page itself shows what went wrong when it reads its data.
      logger.warn('checking a dashboard page failed', { error: error instanceof Error ? error.message : String(error) });
    }
    return { status: 200 };
  }

  async function servePage(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: 'page' }>): Promise<void> {
    const token = csrf.fromCookie(req) ?? csrf.issue();
    const config: DashboardConfig = { basePath, csrfToken: token, actionsEnabled: allowActions, version };
    const html = assets.page(config);
    const { status } = await pageStatus(route);
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'set-cookie': csrf.cookie(token, basePath || '/'),
      'content-length': Buffer.byteLength(html),
    });
    res.end(html);
  }

  async function serveAsset(res: ServerResponse, name: string): Promise<void> {
    const file = await assets.file(name);
    if (!file) return sendText(res, 404, `no asset ${name}`);
    res.writeHead(200, { 'content-type': file.contentType, 'cache-control': 'public, max-age=31536000, immutable', 'content-length': file.body.length });
    res.end(file.body);
  }

  async function serveApi(req: IncomingMessage, res: ServerResponse, route: Extract<Route, { kind: 'api' }>, params: URLSearchParams): Promise<void> {
    switch (route.api) {
      case 'overview':
        return sendJson(res, 200, await loadView(db, { view: 'overview', window: parseWindow(params.get('window')) }));
      case 'flow': {
        const run = params.get('run');
        return sendJson(res, 200, await loadView(db, { view: 'flow', flow: route.flow, run: run ? checkRunId(run) : null }));
      }
      case 'runs':
        return sendJson(res, 200, await loadView(db, { view: 'runs', query: parseRunsQuery(params) }));
      case 'run':
        return sendJson(res, 200, await loadView(db, { view: 'run', run: checkRunId(route.runId) }));
      case 'value': {
        const part = parseValuePart(params);
        return sendJson(res, 200, { text: await asReader(db, () => readRunValue(db, route.runId, part)) });
      }
      case 'live':
        return hub.connect(req, res, parseViewSpec(params));
      case 'actions':
        return sendJson(res, 200, await asReader(db, () => readActions(db, allowActions)));
      case 'action': {
        if (!allowActions) throw forbidden('actions are turned off; create the dashboard with allowActions: true (and authorize) to offer them');
        const site = req.headers['sec-fetch-site'];
        if (site !== undefined && site !== 'same-origin' && site !== 'none') throw forbidden('actions are accepted only from the dashboard itself');
        if (!csrf.accepts(req)) throw forbidden('missing or invalid CSRF token: reload the dashboard and try again');
        const action = findAction(route.action);
        return sendJson(res, 200, await runAction(db, action, await readJsonBody(req), database.withNotices));
      }
      case 'unknown':
        throw notFound('no such API endpoint');
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void): Promise<void> {
    const below = pathBelow(req, basePath);
    if (!below) {
      if (next) return next();
      return sendText(res, 404, 'not found');
    }
    securityHeaders(res);
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      res.setHeader('allow', 'GET, HEAD, POST');
      return sendText(res, 405, `${method} is not supported here`);
    }
    const route = matchRoute(method, below.path);
    if (method === 'POST' && !(route.kind === 'api' && route.api === 'action')) return sendText(res, 405, 'only actions are POSTed');
    const access: DashboardAccess = route.kind === 'api' && route.api === 'action' ? { kind: 'action', action: route.action } : { kind: 'view' };
    if (!(await allowed(req, access))) {
      throw forbidden(access.kind === 'action' ? `you may not run the action "${access.action}" here` : 'you may not see this dashboard');
    }
    if (route.kind === 'page') return servePage(req, res, route);
    if (route.kind === 'asset') return serveAsset(res, route.name);
    return serveApi(req, res, route, below.params);
  }

  const handler = ((req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => {
    handle(req, res, next).catch((error: unknown) => {
      const below = pathBelow(req, basePath);
      const isApi = below?.path.startsWith('/api/') ?? false;
      if (!(error instanceof HttpError)) logger.error('a dashboard request failed', { url: req.url, error: error instanceof Error ? error.message : String(error) });
      sendError(res, error, isApi);
    });
  }) as DashboardHandler;
  Object.defineProperty(handler, 'basePath', { value: basePath, enumerable: true });
  handler.close = async () => {
    await hub.close();
    await database.close();
  };
  return handler;
}
