/**
 * A view's data, kept up to date by the server: the first read over the
 * JSON API, then every update the server pushes over Server-Sent Events
 * (`api/live`). The browser never polls; when the stream breaks, the browser
 * reconnects and the server sends the current data again.
 */
import { useEffect, useState } from 'preact/hooks';
import type { LiveEvent } from '../../api-types';
import { ApiError, getJson } from './api';
import { href } from './config';

export interface ViewState<T> {
  data: T | undefined;
  error: ApiError | undefined;
  /** Whether the live stream is connected. */
  live: boolean;
  /** Engine events of the view's run, as they arrived, newest last. */
  events: LiveEvent[];
}

/** Events kept for the event list. */
const MAX_EVENTS = 200;

/**
 * `path` is the view's API path (e.g. `/runs/<id>`), `liveParams` the live stream's parameters
 * (`view=run&run=<id>`), or null for a view without updates.
 */
export function useLiveView<T>(path: string, params: URLSearchParams, liveParams: URLSearchParams | null): ViewState<T> {
  const [state, setState] = useState<ViewState<T>>({ data: undefined, error: undefined, live: false, events: [] });
  const key = `${path}?${params}`;
  const liveKey = liveParams ? `${liveParams}` : '';

  useEffect(() => {
    let current = true;
    setState((previous) => ({ ...previous, data: undefined, error: undefined, events: [] }));
    getJson<T>(path, params).then(
      (data) => current && setState((previous) => ({ ...previous, data: previous.data ?? data, error: undefined })),
      (error: unknown) => current && setState((previous) => ({ ...previous, error: error instanceof ApiError ? error : new ApiError(0, String(error)) })),
    );
    if (!liveParams) return () => void (current = false);
    const source = new EventSource(href(`/api/live?${liveParams}`));
    source.addEventListener('open', () => setState((previous) => ({ ...previous, live: true })));
    source.addEventListener('error', () => setState((previous) => ({ ...previous, live: false })));
    source.addEventListener('update', (message) => {
      const data = JSON.parse((message as MessageEvent<string>).data) as T;
      setState((previous) => ({ ...previous, data, error: undefined, live: true }));
    });
    source.addEventListener('problem', (message) => {
      const problem = JSON.parse((message as MessageEvent<string>).data) as { status: number; error: string };
      setState((previous) => ({ ...previous, error: new ApiError(problem.status, problem.error) }));
    });
    source.addEventListener('event', (message) => {
      const event = JSON.parse((message as MessageEvent<string>).data) as LiveEvent;
      setState((previous) => ({ ...previous, events: [...previous.events, event].slice(-MAX_EVENTS) }));
    });
    return () => {
      current = false;
      source.close();
    };
  }, [key, liveKey]);

  return state;
}

/** The current time, updated every second while `active` (to draw running tasks growing). */
export function useNow(active: boolean): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [active]);
  return now;
}
