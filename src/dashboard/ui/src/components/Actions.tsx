/**
 * Run-control buttons (cancel, retry, pause, resume) for a run or a flow.
 * Shown only when the dashboard allows actions, and only those that apply to
 * the target's state now (cancel a running run, retry a failed or cancelled
 * one, pause a running flow, resume a paused one). An action the database
 * cannot run (its function is missing, or the dashboard's database role may
 * not call it) is shown disabled with the reason. Each asks for
 * confirmation before it is sent; cancelling takes an optional reason.
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
      (data) => setActions(data.actions.filter((action) => action.target === target)),
      () => {
        actionsRequest = undefined;
        setActions([]);
      },
    );
  }, [target]);
  return actions;
}

interface Props {
  target: 'run' | 'flow';
  /** The run id or the flow slug. */
  id: string;
  /** How the confirmation names the target, e.g. `run 0190…`. */
  label: string;
  /** The target's state: the run's status, or `running` / `paused` for a flow. */
  state: string;
}

export function Actions({ target, id, label, state }: Props) {
  const actions = useActions(target).filter((action) => action.appliesTo.includes(state));
  const [confirming, setConfirming] = useState<ActionInfo | undefined>(undefined);
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  if (actions.length === 0 && !message) return null;
  const unavailable = [...new Set(actions.filter((action) => !action.available).map((action) => action.unavailableReason ?? ''))].filter(Boolean);
  const run = async (action: ActionInfo) => {
    setConfirming(undefined);
    try {
      const trimmed = reason.trim();
      await postAction(action.name, target === 'run' ? { runId: id, ...(action.name === 'cancel-run' && trimmed ? { reason: trimmed } : {}) } : { flowSlug: id });
      setMessage({ ok: true, text: `${action.label}: done` });
    } catch (error) {
      setMessage({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
    }
    setReason('');
  };
  return (
    <div class="actions" data-testid="actions">
      {confirming ? (
        <span class="confirm" data-testid="confirm">
          {confirming.label} — {label}?{' '}
          {confirming.name === 'cancel-run' && (
            <input
              data-testid="action-reason"
              placeholder="reason (optional)"
              maxLength={1000}
              value={reason}
              onInput={(event) => setReason((event.target as HTMLInputElement).value)}
            />
          )}{' '}
          <button type="button" class="danger" onClick={() => run(confirming)}>
            Yes, {confirming.label.toLowerCase()}
          </button>{' '}
          <button type="button" onClick={() => setConfirming(undefined)}>
            No
          </button>
        </span>
      ) : (
        actions.map((action) => (
          <button
            key={action.name}
            type="button"
            onClick={() => {
              setMessage(undefined);
              setConfirming(action);
            }}
            data-action={action.name}
            disabled={!action.available}
            title={action.unavailableReason ?? `${action.label} (asks first)`}
          >
            {action.label}
          </button>
        ))
      )}
      {message && (
        <span class={message.ok ? 'done' : 'problem-inline'} data-testid="action-message">
          {message.text}
        </span>
      )}
      {unavailable.length > 0 && (
        <p class="actions-note muted" data-testid="actions-unavailable">
          {unavailable.join('\n')}
        </p>
      )}
    </div>
  );
}
