/** A status as a coloured label; the colours are shared with the graph and the timeline (styles.css). */

export function Status({ status }: { status: string }) {
  return <span class={`status status-${/^[a-z_]+$/.test(status) ? status : 'other'}`}>{status}</span>;
}

/** The CSS class of a status, for graph nodes and timeline bars. */
export const statusClass = (status: string | undefined) => `is-${status && /^[a-z_]+$/.test(status) ? status : 'other'}`;
