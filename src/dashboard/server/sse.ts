/**
 * A Server-Sent Events stream on a Node response: the headers that keep
 * proxies from buffering it, named events with JSON data, a comment every
 * 15 s so idle connections stay open, and a close callback.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const KEEP_ALIVE_MS = 15_000;

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Sends data that is JSON text already (one line). */
  sendJson(event: string, json: string): void;
  /** Ends the stream from the server's side. */
  end(): void;
  readonly closed: boolean;
}

export function openSseStream(req: IncomingMessage, res: ServerResponse, onClose: () => void): SseStream {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and similar proxies pass the stream through instead of buffering it.
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  // The browser reconnects after 2 s when the stream breaks.
  res.write('retry: 2000\n\n');
  let closed = false;
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEP_ALIVE_MS);
  keepAlive.unref();
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    onClose();
  };
  req.on('close', close);
  res.on('close', close);
  res.on('error', close);
  const sendJson = (event: string, json: string) => {
    if (closed) return;
    res.write(`event: ${event}\ndata: ${json}\n\n`);
  };
  return {
    // JSON.stringify escapes line breaks inside strings, so the data is a single line.
    send: (event, data) => sendJson(event, JSON.stringify(data)),
    sendJson,
    end() {
      if (closed) return;
      res.end();
      close();
    },
    get closed() {
      return closed;
    },
  };
}
