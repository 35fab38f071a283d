/**
 * Run-control buttons (cancel, retry, pause, resume) for a run or a flow.
 * Shown only when the dashboard allows actions and the database has the
 * action's SQL function; each asks for confirmation before it is sent.
 */
import { useEffect, useState } from 'preact/hooks';
import type { ActionInfo, ActionsData } from '../../../api-types';
import { ApiError, getJson, postAction } from '../api';
import { config } from '../config';

let actionsRequest: Promise<ActionsData> | undefined;

function useActions(target: 'run' | 'flow'): ActionInfo[] {
  const [actions, setActions] = useState<ActionInfo[]>([]);
  useEffect(() => {
    if (!config.actionsEnabled) return;
    actionsRequest ??= getJson<ActionsData>('/actions');
    actionsRequest.then(
      (data) => setActions(data.actions.filter((action) => action.available && action.target === target)),
      () => setActions([]),
    );
  }, [target]);
  return actions;
}

export function Actions({ target, id, label }: { target: 'run' | 'flow'; id: string; label: string }) {
  const actions = useActions(target);
  const [confirming, setConfirming] = useState<ActionInfo | undefined>(undefined);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  if (actions.length === 0) return null;
  const run = async (action: ActionInfo) => {
    setConfirming(undefined);
    try {
      await postAction(action.name, target === 'run' ? { runId: id } : { flowSlug: id });
      setMessage({ ok: true, text: `${action.label}: done` });
    } catch (error) {
      setMessage({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
    }
  };
  return (
    <div class="actions" data-testid="actions">
      {confirming ? (
        <span class="confirm">
          {confirming.label} — {label}?{' '}
          <button type="button" class="danger" onClick={() => run(confirming)}>
            Yes, {confirming.label.toLowerCase()}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(undefined)}>
            No
          </button>
        </span>
      ) : (
        actions.map((action) => (
          <button key={action.name} type="button" onClick={() => setConfirming(action)} data-action={action.name}>
            {action.label}
          </button>
        ))
      )}
      {message && <span class={message.ok ? 'done' : 'problem-inline'}>{message.text}</span>}
    </div>
  );
}
