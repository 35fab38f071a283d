/**
 * Run-control actions: cancel or retry a run, pause or resume a flow. Each
 * calls one of the engine's functions (`pgflow.cancel_run(run_id, reason)`,
 * `pgflow.retry_run(run_id)`, `pgflow.pause_flow(flow_slug)`,
 * `pgflow.resume_flow(flow_slug)`) and is offered only when that function
 * exists in the database (an install older than the release that added run
 * control has none) and the dashboard's database role may call it (pgflow's
 * `admin` access level; a `reader` may not). The handler decides whether a
 * request may run one (allowActions, authorize, CSRF); this module checks
 * the target, calls the function and turns the engine's answer into the
 * HTTP answer: an unknown run or flow is a 404, a run in the wrong state
 * (the engine returns no row and says why in a notice) a 409 with the
 * engine's words.
 */
import { accessError, grantStatement, isPermissionDenied } from '../../core/access.js';
import type { SqlExecutor } from '../../core/connection.js';
import type { ActionInfo, ActionResult, ActionsData } from '../api-types.js';
import type { NoticeCapture } from './connection.js';
import { badRequest, forbidden, HttpError, notFound } from './errors.js';
import { readPgflowInfo } from './queries/pgflow-info.js';
import { isUuid } from './queries/run-id-bounds.js';

/** The longest cancel reason accepted (events carry the first 1000 characters of it). */
export const MAX_REASON_LENGTH = 1000;

interface ActionDefinition {
  name: string;
  label: string;
  target: 'run' | 'flow';
  /** The target's states the action applies to (run statuses, or `running` / `paused` for a flow). */
  appliesTo: string[];
  /** The function's signature, as to_regprocedure takes it. */
  sqlFunction: string;
  /** The call: the target as $1 (and the reason as $2 for cancel). */
  call: string;
  takesReason: boolean;
}

const RUN_RESULT = 'r.run_id::text as run_id, r.status';
const FLOW_RESULT = 'f.flow_slug, f.paused_at';

export const ACTIONS: readonly ActionDefinition[] = [
  {
    name: 'cancel-run',
    label: 'Cancel run',
    target: 'run',
    appliesTo: ['started'],
    sqlFunction: 'pgflow.cancel_run(uuid, text)',
    call: `select ${RUN_RESULT} from pgflow.cancel_run($1::uuid, $2::text) r`,
    takesReason: true,
  },
  {
    name: 'retry-run',
    label: 'Retry run',
    target: 'run',
    appliesTo: ['failed', 'cancelled'],
    sqlFunction: 'pgflow.retry_run(uuid)',
    call: `select ${RUN_RESULT} from pgflow.retry_run($1::uuid) r`,
    takesReason: false,
  },
  {
    name: 'pause-flow',
    label: 'Pause flow',
    target: 'flow',
    appliesTo: ['running'],
    sqlFunction: 'pgflow.pause_flow(text)',
    call: `select ${FLOW_RESULT} from pgflow.pause_flow($1::text) f`,
    takesReason: false,
  },
  {
    name: 'resume-flow',
    label: 'Resume flow',
    target: 'flow',
    appliesTo: ['paused'],
    sqlFunction: 'pgflow.resume_flow(text)',
    call: `select ${FLOW_RESULT} from pgflow.resume_flow($1::text) f`,
    takesReason: false,
  },
];

/** Whether each function exists and whether the connected role may call it, in one statement. */
const AVAILABILITY_SQL = `
select current_user::text as role,
       array(select p is not null from unnest($1::text[]) with ordinality u(f, n)
               cross join lateral (select to_regprocedure(u.f) as p) x order by u.n) as present,
       array(select coalesce(has_schema_privilege('pgflow', 'usage') and has_function_privilege(p::oid, 'execute'), false)
               from unnest($1::text[]) with ordinality u(f, n)
               cross join lateral (select to_regprocedure(u.f) as p) x order by u.n) as allowed`;

/** Why an action cannot run here: its function is missing (409), or the role may not call it (403). */
interface Unavailable {
  status: 403 | 409;
  reason: string;
}

async function availability(db: SqlExecutor, actions: readonly ActionDefinition[]): Promise<(Unavailable | null)[]> {
  const [row] = await db.query<{ role: string; present: boolean[]; allowed: boolean[] }>(AVAILABILITY_SQL, [actions.map((action) => action.sqlFunction)]);
  const present = row?.present ?? [];
  const info = present.every(Boolean) ? undefined : await readPgflowInfo(db);
  return actions.map((action, index) => {
    if (!present[index]) {
      const installed = info?.installed ? `pgflow ${info.installed}` : 'no pgflow';
      return {
        status: 409,
        reason: `${action.sqlFunction} does not exist in this database (it has ${installed}): upgrade pgflow to ${info?.supported ?? 'the current release'} to offer "${action.label}"`,
      };
    }
    if (!row?.allowed[index]) {
      return {
        status: 403,
        reason: `the dashboard's database role "${row?.role}" may not call ${action.sqlFunction}: give it pgflow's admin access level with ${grantStatement('admin', row?.role)}`,
      };
    }
    return null;
  });
}

/** Which actions there are, and which of them this database and role can run. */
export async function readActions(db: SqlExecutor, enabled: boolean): Promise<ActionsData> {
  const unavailable = await availability(db, ACTIONS);
  const actions: ActionInfo[] = ACTIONS.map((action, index) => ({
    name: action.name,
    label: action.label,
    target: action.target,
    appliesTo: action.appliesTo,
    sqlFunction: action.sqlFunction,
    available: unavailable[index] === null,
    unavailableReason: unavailable[index]?.reason ?? null,
  }));
  return { enabled, actions };
}

export function findAction(name: string): ActionDefinition {
  const action = ACTIONS.find((candidate) => candidate.name === name);
  if (!action) throw notFound(`there is no action "${name}"; actions: ${ACTIONS.map((candidate) => candidate.name).join(', ')}`);
  return action;
}

/** The target and reason from the request body: `{"runId", "reason"?}` or `{"flowSlug"}`. */
function readBody(action: ActionDefinition, body: unknown): { target: string; reason: string | null } {
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const target = action.target === 'run' ? fields.runId : fields.flowSlug;
  if (typeof target !== 'string' || target === '') {
    throw badRequest(`${action.name} needs ${action.target === 'run' ? '{"runId": "<run id>"}' : '{"flowSlug": "<flow slug>"}'} as its JSON body`);
  }
  if (action.target === 'run' && !isUuid(target)) throw badRequest(`"${target}" is not a run id`);
  const reason = fields.reason ?? null;
  if (reason !== null) {
    if (!action.takesReason) throw badRequest(`${action.name} takes no reason`);
    if (typeof reason !== 'string') throw badRequest('the reason must be a string');
    if (reason.length > MAX_REASON_LENGTH) throw badRequest(`the reason is ${reason.length} characters long; at most ${MAX_REASON_LENGTH} are accepted`);
  }
  const trimmed = typeof reason === 'string' ? reason.trim() : '';
  return { target: action.target === 'run' ? target.toLowerCase() : target, reason: trimmed === '' ? null : trimmed };
}

/** An error PostgreSQL raised (it has a five-character SQLSTATE), not a broken connection. */
function isDatabaseError(error: unknown): error is Error & { code: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/**
 * Runs the action on the target named in the request body. `capture` runs the call on a connection
 * whose notices it collects (the engine explains a refusal in a notice), where the driver allows it.
 */
export async function runAction(db: SqlExecutor, action: ActionDefinition, body: unknown, capture: NoticeCapture): Promise<ActionResult> {
  const { target, reason } = readBody(action, body);
  let unavailable: Unavailable | null | undefined;
  try {
    [unavailable] = await availability(db, [action]);
  } catch (error) {
    // A role without any pgflow level cannot even look the function up.
    if (isPermissionDenied(error)) throw forbidden(((await accessError(db, error, 'admin', `run "${action.label}"`)) as Error).message);
    throw error;
  }
  if (unavailable) throw new HttpError(unavailable.status, unavailable.reason);

  const values = action.takesReason ? [target, reason] : [target];
  let outcome: { value: Record<string, unknown>[]; notices: string[] };
  try {
    outcome = await capture((connection) => connection.query<Record<string, unknown>>(action.call, values));
  } catch (error) {
    if (isPermissionDenied(error)) throw forbidden(((await accessError(db, error, 'admin', `run "${action.label}"`)) as Error).message);
    if (!isDatabaseError(error)) throw error;
    // The engine's own refusal (an unknown run or flow: SQLSTATE 42704) is the message the user needs.
    throw new HttpError(error.code === '42704' ? 404 : 409, `${action.label} failed: ${error.message}`);
  }
  const [row] = outcome.value;
  if (action.target === 'flow') {
    const pausedAt = row?.paused_at as Date | string | null | undefined;
    return { ok: true, result: { flowSlug: String(row?.flow_slug ?? target), pausedAt: pausedAt ? new Date(pausedAt).toISOString() : null } };
  }
  if (!row) {
    // A run in the wrong state: the engine changes nothing, returns no row and says why in a notice.
    let why = outcome.notices.at(-1);
    if (why === undefined) {
      const [run] = await db.query<{ status: string }>('select status from pgflow.runs where run_id = $1::uuid', [target]);
      why = `run ${target} is ${run?.status ?? 'gone'}`;
    }
    throw new HttpError(409, `${action.label} changed nothing: ${why}`);
  }
  return { ok: true, result: { runId: String(row.run_id), status: String(row.status) } };
}
