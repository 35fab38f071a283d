/** Reading the dashboard's JSON API, and posting actions with the CSRF token. */
import { config, href } from './config';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => null)) as (T & { error?: string }) | null;
  if (!response.ok) throw new ApiError(response.status, body?.error ?? `the server answered ${response.status}`);
  return body as T;
}

export async function getJson<T>(path: string, params?: URLSearchParams): Promise<T> {
  const query = params && params.size > 0 ? `?${params}` : '';
  return answer<T>(await fetch(href(`/api${path}${query}`), { headers: { accept: 'application/json' } }));
}

export async function postAction<T>(action: string, body: Record<string, string>): Promise<T> {
  return answer<T>(
    await fetch(href(`/api/actions/${encodeURIComponent(action)}`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-pgflow-csrf': config.csrfToken },
      body: JSON.stringify(body),
    }),
  );
}
