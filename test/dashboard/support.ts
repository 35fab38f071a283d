/**
 * Helpers for the dashboard tests: the handler on a node:http server of its
 * own (port 0), JSON and page requests, and a Server-Sent Events reader that
 * waits for a matching event.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDashboard, type DashboardHandler, type DashboardOptions } from '../../src/dashboard/index.js';

export interface TestDashboard {
  /** The dashboard's root URL, with a trailing slash. */
  url: string;
  handler: DashboardHandler;
  server: Server;
  close(): Promise<void>;
}

/** Serves `createDashboard(options)` under `options.basePath` on 127.0.0.1 and a free port. */
export async function serveTestDashboard(options: DashboardOptions): Promise<TestDashboard> {
  const handler = createDashboard(options);
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${handler.basePath}/`,
    handler,
    server,
    async close() {
      const closed = new Promise((resolve) => server.close(resolve));
      await handler.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<JsonResponse<T>> {
  const response = await fetch(url, { headers: { accept: 'application/json' } });
  return { status: response.status, headers: response.headers, body: (await response.json()) as T };
}

export async function getText(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(url, init);
  return { status: response.status, headers: response.headers, body: await response.text() };
}

export interface SseMessage {
  event: string;
  data: unknown;
}

/** A Server-Sent Events connection whose messages are collected as they arrive. */
export interface SseReader {
  readonly messages: SseMessage[];
  /** Resolves with the first message (received or to come, after `from`) that matches; rejects after `timeoutMs`. */
  next(match: (message: SseMessage) => boolean, options?: { timeoutMs?: number; from?: number }): Promise<SseMessage>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (response.status !== 200 || !response.body) throw new Error(`${url} answered ${response.status}: ${await response.text()}`);
  const messages: SseMessage[] = [];
  const waiters = new Set<() => void>();
  let buffer = '';
  const decoder = new TextDecoder();
  void (async () => {
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length === 0) continue;
          messages.push({ event, data: JSON.parse(data.join('\n')) });
          for (const waiter of waiters) waiter();
        }
      }
    } catch {
      // Closed by the test.
    }
  })();
  return {
    messages,
    next(match, { timeoutMs = 5000, from = 0 } = {}) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching server-sent event within ${timeoutMs} ms; received: ${JSON.stringify(messages.map((message) => message.event))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => controller.abort(),
  };
}
