/** The frame of every page: the header with navigation, the live indicator and the version. */
import type { ComponentChildren } from 'preact';
import { config, href } from '../config';

export function Layout({ title, live, children }: { title: string; live?: boolean; children: ComponentChildren }) {
  document.title = `${title} · pgflow`;
  return (
    <div class="page">
      <header class="top">
        <a class="brand" href={href('/')}>
          pgflow
        </a>
        <nav>
          <a href={href('/')}>Overview</a>
          <a href={href('/runs')}>Runs</a>
        </nav>
        <span class="spacer" />
        {live !== undefined && (
          <span class={`live ${live ? 'on' : 'off'}`} title={live ? 'updates arrive as the engine sends events' : 'not connected: reconnecting'} data-testid="live">
            {live ? 'live' : 'offline'}
          </span>
        )}
        <span class="version">pgflow-orm {config.version}</span>
      </header>
      <main>{children}</main>
    </div>
  );
}

/** An error box; 404s name what was not found. */
export function Problem({ status, message }: { status: number; message: string }) {
  return (
    <div class="problem" role="alert" data-testid="problem">
      <strong>{status === 404 ? 'Not found' : status === 0 ? 'Cannot reach the server' : `Error ${status}`}</strong>
      <p>{message}</p>
    </div>
  );
}

export function Loading() {
  return <p class="loading">Loading…</p>;
}
