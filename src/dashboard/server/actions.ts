/**
 * Run-control actions (cancel or retry a run, pause or resume a flow). Each
 * calls one SQL function of the engine and is offered only when that
 * function exists in the database (`to_regprocedure`), so actions appear
 * once the installed pgflow version has them. The handler decides whether
 * a request may run one (allowActions, authorize, CSRF); this module checks
 * the target and calls the function.
 */
import type { SqlExecutor } from '../../core/connection.js';
import type { ActionInfo, ActionsData } from '../api-types.js';
import { badRequest, HttpError, notFound } from './errors.js';
import { isUuid } from './queries/run-id-bounds.js';

interface ActionDefinition {
  name: string;
  label: string;
  target: 'run' | 'flow';
  /** The function's signature, as to_regprocedure takes it. */
  sqlFunction: string;
  /** The call, with the target as $1. */
  call: string;
}

export const ACTIONS: readonly ActionDefinition[] = [
  { name: 'cancel-run', label: 'Cancel run', target: 'run', sqlFunction: 'pgflow.cancel_run(uuid)', call: 'select pgflow.cancel_run($1::uuid) as result' },
  { name: 'retry-run', label: 'Retry run', target: 'run', sqlFunction: 'pgflow.retry_run(uuid)', call: 'select pgflow.retry_run($1::uuid) as result' },
  { name: 'pause-flow', label: 'Pause flow', target: 'flow', sqlFunction: 'pgflow.pause_flow(text)', call: 'select pgflow.pause_flow($1::text) as result' },
  { name: 'resume-flow', label: 'Resume flow', target: 'flow', sqlFunction: 'pgflow.resume_flow(text)', call: 'select pgflow.resume_flow($1::text) as result' },
];

/** Which actions exist in the database. */
export async function readActions(db: SqlExecutor, enabled: boolean): Promise<ActionsData> {
  const [row] = await db.query<{ present: boolean[] }>(`select array(select to_regprocedure(f) is not null from unnest($1::text[]) with ordinality u(f, n) order by n) as present`, [
    ACTIONS.map((action) => action.sqlFunction),
  ]);
  const actions: ActionInfo[] = ACTIONS.map((action, index) => ({
    name: action.name,
    label: action.label,
    target: action.target,
    sqlFunction: action.sqlFunction,
    available: row?.present[index] === true,
  }));
  return { enabled, actions };
}

export function findAction(name: string): ActionDefinition {
  const action = ACTIONS.find((candidate) => candidate.name === name);
  if (!action) throw notFound(`there is no action "${name}"; actions: ${ACTIONS.map((candidate) => candidate.name).join(', ')}`);
  return action;
}

/** Runs the action on the target named in the request body (`{"runId"}` or `{"flowSlug"}`). */
export async function runAction(db: SqlExecutor, action: ActionDefinition, body: unknown): Promise<{ ok: true; result: unknown }> {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const target = action.target === 'run' ? fields.runId : fields.flowSlug;
  if (typeof target !== 'string' || target === '') throw badRequest(`${action.name} needs ${action.target === 'run' ? '{"runId": "<run id>"}' : '{"flowSlug": "<flow slug>"}'} as its JSON body`);
  if (action.target === 'run' && !isUuid(target)) throw badRequest(`"${target}" is not a run id`);
  const [present] = await db.query<{ present: boolean }>('select to_regprocedure($1::text) is not null as present', [action.sqlFunction]);
  if (!present?.present) {
    throw new HttpError(409, `${action.sqlFunction} does not exist in this database: "${action.label}" becomes available once the installed pgflow version has it`);
  }
  try {
    const [row] = await db.query<{ result: unknown }>(action.call, [target]);
    return { ok: true, result: row?.result ?? null };
  } catch (error) {
    // The engine's own refusal (a finished run, an unknown flow) is the message the user needs.
    throw new HttpError(409, `${action.label} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
