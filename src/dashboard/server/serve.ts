/**
 * The dashboard on its own HTTP server (what `pgflow-orm dashboard` and
 * `pgflow-orm demo --dashboard` run): node:http with the handler at the
 * root, bound to loopback unless told otherwise.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard, type DashboardOptions } from './handler.js';

export interface ServeDashboardOptions extends Omit<DashboardOptions, 'basePath'> {
  /** Default 4000; 0 picks a free port. */
  port?: number;
  /** Default 127.0.0.1 (this machine only). */
  host?: string;
}

export interface DashboardServer {
  /** e.g. `http://127.0.0.1:4000/`. */
  url: string;
  server: Server;
  /** Stops accepting connections, ends live streams and the dashboard's connections. */
  close(): Promise<void>;
}

/** Whether `host` is a loopback address (reachable from this machine only). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Serves the dashboard on a server of its own, on 127.0.0.1 by default (it has no login: see `createDashboard`'s `authorize` before binding another address). Resolves once it listens.
 *
 * @example
 * ```ts
 * import { serveDashboard } from 'pgflow-orm/dashboard';
 *
 * const server = await serveDashboard({ connectionString: process.env.DATABASE_URL, port: 4000 });
 * console.log(`dashboard on ${server.url}`);
 * await server.close();
 * ```
 */
export async function serveDashboard(options: ServeDashboardOptions): Promise<DashboardServer> {
  const { port = 4000, host = '127.0.0.1', ...dashboardOptions } = options;
  const handler = createDashboard(dashboardOptions);
  const server = createServer((req, res) => handler(req, res));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await handler.close();
    throw error;
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/`,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Live streams never end by themselves: close them (and idle keep-alive sockets) so close() returns.
      await handler.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
