/**
 * `pgflowSql` checks its arguments before it sends anything: malformed UUIDs
 * (run and worker ids), quantities that are NaN, fractional, infinite or below
 * the engine's minimum, and JSON values or error messages holding a NUL
 * character fail with a PgflowArgumentError that names the method, the
 * argument, the value (and for JSON the path to the NUL), no query is sent
 * and nothing changes in the database. The UUID check is compared with
 * PostgreSQL's own uuid input, and valid edge cases still reach the engine.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isUuid, jsonParameter, PgflowArgumentError } from '../../src/core/arguments.js';
import type { SqlExecutor } from '../../src/core/connection.js';
import { pgflowSql, type PgflowSql } from '../../src/core/sql-api.js';
import { PgflowArgumentError as Exported } from '../../src/index.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase();

/** pgflowSql over the test database, recording every statement it sends. */
function recordingApi(): { api: PgflowSql; sent: string[] } {
  const sent: string[] = [];
  const executor: SqlExecutor = {
    async query<R>(text: string, values: readonly unknown[] = []) {
      sent.push(text);
      return (await db.pool.query(text, [...values])).rows as R[];
    },
  };
  return { api: pgflowSql(executor), sent };
}

async function rejection(promise: Promise<unknown>): Promise<PgflowArgumentError> {
  try {
    await promise;
  } catch (error) {
    return error as PgflowArgumentError;
  }
  throw new Error('expected the call to be refused');
}

let counter = 0;
/** A flow with two root steps and one started run of it, whose tasks a worker has claimed. */
async function claimedRun(): Promise<{ flow: string; runId: string; workerId: string; msgIds: number[] }> {
  counter += 1;
  const flow = `args_${counter}`;
  const api = pgflowSql(db.pool);
  await api.createFlow(flow, { maxAttempts: 3 });
  await api.addStep(flow, 'a');
  await api.addStep(flow, 'b');
  const run = await api.startFlow(flow, { n: 1 });
  const workerId = randomUUID();
  const tasks = await api.claimTasks(flow, workerId, 10);
  expect(tasks).toHaveLength(2);
  return { flow, runId: run.runId, workerId, msgIds: tasks.map((task) => task.msgId) };
}

/** Everything a refused call could have changed. */
async function stateOf(flow: string) {
  return {
    runs: await db.query(`select run_id, status, input, output from pgflow.runs where flow_slug = $1 order by run_id`, [flow]),
    tasks: await db.query(
      `select run_id, step_slug, status, attempts_count, output, error_message from pgflow.step_tasks where flow_slug = $1 order by run_id, step_slug`,
      [flow],
    ),
    steps: await db.query(`select step_slug, opt_max_attempts, opt_timeout, required_input_pattern from pgflow.steps where flow_slug = $1 order by step_slug`, [flow]),
    flow: await db.query(`select opt_max_attempts, opt_base_delay, opt_timeout from pgflow.flows where flow_slug = $1`, [flow]),
    messages: await db.query(`select msg_id, read_ct, vt from pgmq.${`q_${flow}`} order by msg_id`),
    schedules: await db.query(`select schedule_name from pgflow.schedules where flow_slug = $1`, [flow]),
  };
}

describe('the UUID check', () => {
  it('accepts exactly what PostgreSQL’s uuid type accepts', async () => {
    const candidates = [
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
      '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
      'a0eebc999c0b4ef8bb6d6bb9bd380a11',
      'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11',
      '{a0eebc999c0b4ef8bb6d6bb9bd380a11}',
      'a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11',
      '',
      'not-a-uuid',
      ' a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11 ',
      '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}',
      'a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0eebc9-99c0b-4ef8-bb6d-6bb9bd380a11',
      '-a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11-',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1',
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a111',
      'g0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    ];
    for (const candidate of candidates) {
      const postgres = await db.query(`select $1::uuid`, [candidate]).then(
        () => true,
        () => false,
      );
      expect(isUuid(candidate), JSON.stringify(candidate)).toBe(postgres);
    }
    expect(isUuid(undefined)).toBe(false);
    expect(isUuid(42)).toBe(false);
  });
});

describe('JSON parameters', () => {
  it('name the path of a NUL character in a string or in a key, and leave a written-out \\u0000 alone', () => {
    const find = (value: unknown) => {
      try {
        return jsonParameter('test', 'value', 'the value', value);
      } catch (error) {
        return error as PgflowArgumentError;
      }
    };
    const nested = find({ items: [{ name: 'ok' }, { name: 'a\u0000b' }] }) as PgflowArgumentError;
    expect(nested).toBeInstanceOf(PgflowArgumentError);
    expect(nested.path).toBe('$.items[1].name');
    expect(nested.message).toBe('test: the value contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb: at $.items[1].name');
    const inKey = find({ 'odd\u0000key': 1 }) as PgflowArgumentError;
    expect(inKey.path).toBe('$["odd\\u0000key"]');
    expect(inKey.message).toContain('(in the key)');
    expect((find(['\u0000']) as PgflowArgumentError).path).toBe('$[0]');
    expect((find('\u0000') as PgflowArgumentError).path).toBe('$');
    // A backslash followed by "u0000" is ordinary text.
    expect(find({ text: '\\u0000' })).toBe('{"text":"\\\\u0000"}');
    expect(find(null)).toBeNull();
    expect(find(undefined)).toBeNull();
  });
});

describe('pgflowSql refuses bad arguments before sending anything', () => {
  const uuid = randomUUID();
  const cases: [string, (api: PgflowSql, flow: string) => Promise<unknown>, string, string][] = [
    ['startFlow: a malformed runId', (api, flow) => api.startFlow(flow, {}, 'run-1'), 'runId', 'pgflowSql.startFlow: runId must be a UUID, got "run-1"'],
    ['startFlowWithStates: a malformed runId', (api, flow) => api.startFlowWithStates(flow, {}, { runId: '1234' }), 'runId', 'pgflowSql.startFlowWithStates: runId must be a UUID, got "1234"'],
    ['cancelRun: an empty runId', (api) => api.cancelRun(''), 'runId', 'pgflowSql.cancelRun: runId must be a UUID, got ""'],
    ['retryRun: a number', (api) => api.retryRun(42 as never), 'runId', 'pgflowSql.retryRun: runId must be a UUID, got 42'],
    ['getRunWithStates: undefined', (api) => api.getRunWithStates(undefined as never), 'runId', 'pgflowSql.getRunWithStates: runId must be a UUID, got undefined'],
    ['claimTasks: a malformed workerId', (api, flow) => api.claimTasks(flow, 'worker-1', 10), 'workerId', 'pgflowSql.claimTasks: workerId must be a UUID, got "worker-1"'],
    ['claimTasks: qty NaN', (api, flow) => api.claimTasks(flow, uuid, Number.NaN), 'qty', 'pgflowSql.claimTasks: qty must be a whole number of at least 1, got NaN'],
    ['claimTasks: qty 0', (api, flow) => api.claimTasks(flow, uuid, 0), 'qty', 'pgflowSql.claimTasks: qty must be a whole number of at least 1, got 0'],
    ['claimTasks: qty 2.5', (api, flow) => api.claimTasks(flow, uuid, 2.5), 'qty', 'pgflowSql.claimTasks: qty must be a whole number of at least 1, got 2.5'],
    ['claimTasks: qty past the integer range', (api, flow) => api.claimTasks(flow, uuid, 2 ** 31), 'qty', 'pgflowSql.claimTasks: qty must be a whole number of at least 1 (at most 2147483647), got 2147483648'],
    ['startTasks: a NaN message id', (api, flow) => api.startTasks(flow, [1, Number.NaN], uuid), 'msgIds[1]', 'pgflowSql.startTasks: msgIds[1] must be a message id (a whole number of at least 1), got NaN'],
    ['startTasks: a malformed workerId', (api, flow) => api.startTasks(flow, [1], 'x'), 'workerId', 'pgflowSql.startTasks: workerId must be a UUID, got "x"'],
    ['readMessages: a negative visibilityTimeout', (api, flow) => api.readMessages(flow, -1, 10), 'visibilityTimeout', 'pgflowSql.readMessages: visibilityTimeout must be a whole number of at least 0, got -1'],
    ['readMessages: qty Infinity', (api, flow) => api.readMessages(flow, 30, Number.POSITIVE_INFINITY), 'qty', 'pgflowSql.readMessages: qty must be a whole number of at least 0, got Infinity'],
    ['readWithPoll: maxPollSeconds NaN', (api, flow) => api.readWithPoll(flow, 30, 1, Number.NaN), 'maxPollSeconds', 'pgflowSql.readWithPoll: maxPollSeconds must be a whole number, got NaN'],
    ['pollForTasks: qty 0', (api, flow) => api.pollForTasks(flow, 30, 0), 'qty', 'pgflowSql.pollForTasks: qty must be a whole number of at least 1, got 0'],
    ['pollForTasks: a negative pollIntervalMs', (api, flow) => api.pollForTasks(flow, 30, 1, 1, -5), 'pollIntervalMs', 'pgflowSql.pollForTasks: pollIntervalMs must be a whole number of at least 0, got -5'],
    ['setVtBatch: a fractional offset', (api, flow) => api.setVtBatch(flow, [1], [1.5]), 'vtOffsets[0]', 'pgflowSql.setVtBatch: vtOffsets[0] must be a whole number, got 1.5'],
    ['setVtBatch: a negative message id', (api, flow) => api.setVtBatch(flow, [-1], [5]), 'msgIds[0]', 'pgflowSql.setVtBatch: msgIds[0] must be a message id (a whole number of at least 1), got -1'],
    ['completeTask: a malformed runId', (api) => api.completeTask({ runId: 'abc', stepSlug: 'a', output: 1 }), 'completion.runId', 'pgflowSql.completeTask: completion.runId must be a UUID, got "abc"'],
    [
      'completeTasks: a negative taskIndex in the second completion',
      (api) => api.completeTasks([{ runId: uuid, stepSlug: 'a', output: 1 }, { runId: uuid, stepSlug: 'b', taskIndex: -1, output: 2 }]),
      'completions[1].taskIndex',
      'pgflowSql.completeTasks: completions[1].taskIndex must be a whole number of at least 0, got -1',
    ],
    ['failTask: taskIndex NaN', (api) => api.failTask({ runId: uuid, stepSlug: 'a', taskIndex: Number.NaN, errorMessage: 'x' }), 'failure.taskIndex', 'pgflowSql.failTask: failure.taskIndex must be a whole number of at least 0, got NaN'],
    ['createFlow: maxAttempts NaN', (api, flow) => api.createFlow(flow, { maxAttempts: Number.NaN }), 'maxAttempts', 'pgflowSql.createFlow: maxAttempts must be a whole number of at least 0, got NaN'],
    ['createFlow: timeout 0', (api, flow) => api.createFlow(flow, { timeout: 0 }), 'timeout', 'pgflowSql.createFlow: timeout must be a whole number of at least 1, got 0'],
    ['createFlow: a negative baseDelay', (api, flow) => api.createFlow(flow, { baseDelay: -1 }), 'baseDelay', 'pgflowSql.createFlow: baseDelay must be a whole number of at least 0, got -1'],
    ['addStep: a fractional startDelay', (api, flow) => api.addStep(flow, 'c', { startDelay: 1.5 }), 'startDelay', 'pgflowSql.addStep: startDelay must be a whole number of at least 0, got 1.5'],
    ['calculateRetryDelay: baseDelay NaN', (api) => api.calculateRetryDelay(Number.NaN, 1), 'baseDelay', 'pgflowSql.calculateRetryDelay: baseDelay must be a finite number of at least 0, got NaN'],
    ['calculateRetryDelay: a negative attemptsCount', (api) => api.calculateRetryDelay(5, -1), 'attemptsCount', 'pgflowSql.calculateRetryDelay: attemptsCount must be a whole number of at least 0, got -1'],
    ['pruneBatch: batchSize 0', (api) => api.pruneBatch('1 day', 0), 'batchSize', 'pgflowSql.pruneBatch: batchSize must be a whole number of at least 1, got 0'],
    ['registerWorker: a malformed workerId', (api, flow) => api.registerWorker('w', flow, 'test'), 'workerId', 'pgflowSql.registerWorker: workerId must be a UUID, got "w"'],
    ['heartbeatWorker: a malformed workerId', (api) => api.heartbeatWorker('w'), 'workerId', 'pgflowSql.heartbeatWorker: workerId must be a UUID, got "w"'],
    ['stopWorker: a malformed workerId', (api) => api.stopWorker('w'), 'workerId', 'pgflowSql.stopWorker: workerId must be a UUID, got "w"'],
    ['startReadySteps: a malformed runId', (api) => api.startReadySteps('r'), 'runId', 'pgflowSql.startReadySteps: runId must be a UUID, got "r"'],
    ['maybeCompleteRun: a malformed runId', (api) => api.maybeCompleteRun('r'), 'runId', 'pgflowSql.maybeCompleteRun: runId must be a UUID, got "r"'],
    ['cascadeCompleteTasklessSteps: a malformed runId', (api) => api.cascadeCompleteTasklessSteps('r'), 'runId', 'pgflowSql.cascadeCompleteTasklessSteps: runId must be a UUID, got "r"'],
    ['fireSchedule: an invalid Date', (api, flow) => api.fireSchedule(flow, 'nightly', new Date('not a date')), 'tick', 'pgflowSql.fireSchedule: tick must be a valid Date, got an invalid Date'],
  ];

  it.each(cases)('%s', async (_what, call, argument, message) => {
    const { flow } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const error = await rejection(call(api, flow));
    expect(error).toBeInstanceOf(PgflowArgumentError);
    expect(error).toBeInstanceOf(TypeError);
    expect({ name: error.name, argument: error.argument, message: error.message }).toEqual({ name: 'PgflowArgumentError', argument, message });
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
  });

  it('exports PgflowArgumentError from the package', () => {
    expect(Exported).toBe(PgflowArgumentError);
  });

  it('still sends what PostgreSQL accepts: an upper-case or braced UUID, message ids as strings, qty 0 for pgmq.read, a negative offset', async () => {
    const { flow, runId, workerId, msgIds } = await claimedRun();
    const { api, sent } = recordingApi();
    expect((await api.getRunWithStates(`{${runId.toUpperCase()}}`))?.run).toMatchObject({ run_id: runId });
    expect(await api.readMessages(flow, 30, 0)).toEqual([]);
    expect(await api.setVtBatch(flow, msgIds.map(String) as never, [-1, -1])).toHaveLength(2);
    // Its tasks are running (within their deadline): nothing starts, but the call went through.
    expect(await api.startTasks(flow, msgIds, workerId.replaceAll('-', ''))).toEqual([]);
    expect(sent).toHaveLength(4);
  });
});

describe('NUL characters', () => {
  it('in an output: completeTask refuses it, naming the step, the task, the run and the path; the task stays started', async () => {
    const { flow, runId } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const error = await rejection(api.completeTask({ runId, stepSlug: 'a', output: { items: [{ name: 'ok' }, { name: 'bad\u0000name' }] } }));
    expect(error).toBeInstanceOf(PgflowArgumentError);
    expect(error.message).toBe(
      `pgflowSql.completeTask: the output of task 0 of step "a" in run ${runId} contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb: at $.items[1].name`,
    );
    expect({ argument: error.argument, path: error.path }).toEqual({ argument: 'completion.output', path: '$.items[1].name' });
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
  });

  it('in one output of a batch: completeTasks completes none of them', async () => {
    const { flow, runId } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const error = await rejection(
      api.completeTasks([
        { runId, stepSlug: 'a', output: 'fine' },
        { runId, stepSlug: 'b', output: ['\u0000'] },
      ]),
    );
    expect({ argument: error.argument, path: error.path }).toEqual({ argument: 'completions[1].output', path: '$[0]' });
    expect(error.message).toContain(`the output of task 0 of step "b" in run ${runId}`);
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
    // The same outputs without the NUL are stored.
    expect(await api.completeTasks([{ runId, stepSlug: 'a', output: 'fine' }, { runId, stepSlug: 'b', output: ['\\u0000'] }])).toHaveLength(2);
    expect((await db.query(`select output from pgflow.runs where run_id = $1`, [runId]))[0]).toEqual({ output: { a: 'fine', b: ['\\u0000'] } });
  });

  it('in a run input: startFlow and startFlowWithStates create no run', async () => {
    const { flow } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const input = { customer: { 'na\u0000me': 'x' } };
    for (const [method, call] of [
      ['startFlow', () => api.startFlow(flow, input)],
      ['startFlowWithStates', () => api.startFlowWithStates(flow, input)],
    ] as const) {
      const error = await rejection(call());
      expect(error.message).toBe(
        `pgflowSql.${method}: the input of a run of flow "${flow}" contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb: at $.customer["na\\u0000me"] (in the key)`,
      );
      expect(error.argument).toBe('input');
    }
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
  });

  it('in an error message, a condition pattern or a schedule input: refused, nothing changes', async () => {
    const { flow, runId } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const failed = await rejection(api.failTask({ runId, stepSlug: 'a', errorMessage: 'HTTP 500\u0000garbage' }));
    expect(failed.message).toBe('pgflowSql.failTask: failure.errorMessage contains a NUL character (\\u0000), which PostgreSQL cannot store in text (at character 8)');
    const pattern = await rejection(api.addStep(flow, 'c', { requiredInputPattern: { run: { tag: '\u0000' } } }));
    expect(pattern.message).toBe(
      'pgflowSql.addStep: requiredInputPattern of step "c" contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb: at $.run.tag',
    );
    const schedule = await rejection(api.scheduleFlow(flow, 'nightly', '0 3 * * *', { note: '\u0000' }));
    expect(schedule.message).toBe(
      `pgflowSql.scheduleFlow: the input of schedule "nightly" of flow "${flow}" contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb: at $.note`,
    );
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
  });

  it('in a slug or a name (any text parameter): refused naming the function and the parameter, before the driver would fail', async () => {
    const { flow, runId } = await claimedRun();
    const before = await stateOf(flow);
    const { api, sent } = recordingApi();
    const paused = await rejection(api.pauseFlow('bad\u0000flow'));
    expect(paused).toBeInstanceOf(PgflowArgumentError);
    expect(paused.message).toBe('pgflowSql (pgflow.pause_flow): parameter $1 contains a NUL character (\\u0000), which PostgreSQL cannot store in text (at character 3)');
    expect(paused.argument).toBe('$1');
    const added = await rejection(api.addStep(flow, 'st\u0000ep'));
    expect(added.message).toMatch(/^pgflowSql \(pgflow\.add_step\): parameter \$2 contains a NUL character/);
    // A step slug inside the batch's arrays of completeTasks.
    const completed = await rejection(api.completeTasks([{ runId, stepSlug: 'a\u0000', output: 1 }]));
    expect(completed.message).toMatch(/^pgflowSql \(pgflow\.complete_tasks\): parameter \$2 contains a NUL character/);
    expect(sent).toEqual([]);
    expect(await stateOf(flow)).toEqual(before);
  });
});
