/**
 * The dashboard's URLs, relative to its mount path: four pages (served as
 * the same front-end page), the built assets, and the JSON API the front end
 * reads (including the live stream and the actions).
 */
import { badRequest } from './errors.js';

export type Route =
  | { kind: 'page'; page: 'overview' | 'runs' }
  | { kind: 'page'; page: 'flow'; flow: string }
  | { kind: 'page'; page: 'run'; runId: string }
  | { kind: 'page'; page: 'unknown' }
  | { kind: 'asset'; name: string }
  | { kind: 'api'; api: 'overview' | 'runs' | 'live' | 'actions' }
  | { kind: 'api'; api: 'flow'; flow: string }
  | { kind: 'api'; api: 'run' | 'value'; runId: string }
  | { kind: 'api'; api: 'action'; action: string }
  | { kind: 'api'; api: 'unknown' };

function segments(path: string): string[] {
  try {
    return path
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
  } catch {
    throw badRequest(`the path ${path} is not correctly encoded`);
  }
}

/** Matches a method and a path below the mount path (starting with "/"). */
export function matchRoute(method: string, path: string): Route {
  const parts = segments(path);
  const [first, second, third, fourth] = parts;
  if (first === 'api') {
    if (method === 'POST') return parts.length === 3 && second === 'actions' ? { kind: 'api', api: 'action', action: third! } : { kind: 'api', api: 'unknown' };
    if (parts.length === 2 && (second === 'overview' || second === 'runs' || second === 'live' || second === 'actions')) return { kind: 'api', api: second };
    if (parts.length === 3 && second === 'flows') return { kind: 'api', api: 'flow', flow: third! };
    if (parts.length === 3 && second === 'runs') return { kind: 'api', api: 'run', runId: third! };
    if (parts.length === 4 && second === 'runs' && fourth === 'value') return { kind: 'api', api: 'value', runId: third! };
    return { kind: 'api', api: 'unknown' };
  }
  if (first === 'assets' && parts.length === 2) return { kind: 'asset', name: second! };
  if (parts.length === 0) return { kind: 'page', page: 'overview' };
  if (parts.length === 1 && first === 'runs') return { kind: 'page', page: 'runs' };
  if (parts.length === 2 && first === 'runs') return { kind: 'page', page: 'run', runId: second! };
  if (parts.length === 2 && first === 'flows') return { kind: 'page', page: 'flow', flow: second! };
  return { kind: 'page', page: 'unknown' };
}
