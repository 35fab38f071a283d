/**
 * Access levels: pgflow.grant_worker / grant_client / grant_reader /
 * grant_admin give an existing role exactly what its job needs. For each
 * level, every call it is meant to make succeeds when connected as that
 * role, and a list of things it must not do fails with permission denied
 * (SQLSTATE 42501); revoking a level keeps what the role's other levels
 * need; flows created later reach the roles granted before; a release
 * re-grants what it adds; and pgflow installed by a non-superuser owner can
 * grant all of it.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot, readMigrations } from '../../src/migrations/index.js';
import { applyMigrations } from '../../scripts/release/scratch.js';
import { createDatabase, databaseUrl, dropDatabase, useTestDatabase, withAdminClient } from '../support/database.js';
import { useLoginRoles, type LoginRole } from '../support/roles.js';
import { defineFlow, errorOf, newWorkerId, onClient, startFlow, uniqueSlug, type Db, type RunRow, type TaskRecord } from './support.js';

const db = useTestDatabase();
const ownerDatabases: string[] = [];
const role = useLoginRoles(() => [db.name]);
afterAll(async () => {
  await Promise.all(ownerDatabases.splice(0).map((name) => dropDatabase(name)));
});

const PERMISSION_DENIED = '42501';

/** Runs `text` as `client` and expects permission denied. */
async function denied(client: pg.Client, text: string, values: unknown[] = []): Promise<string> {
  const error = await errorOf(() => client.query(text, values));
  expect({ statement: text, code: error.code }).toEqual({ statement: text, code: PERMISSION_DENIED });
  return error.message;
}

/** A role connected to the test database with one access level. */
async function connectedAs(level: 'worker' | 'client' | 'reader' | 'admin'): Promise<{ role: LoginRole; client: pg.Client; db: Db }> {
  const created = await role(level);
  await db.query(`select pgflow.grant_${level}($1)`, [created.name]);
  const client = await created.connect(db.url);
  return { role: created, client, db: onClient(client) };
}

/** A flow with two steps (b after a), defined by the test database's owner. */
const twoSteps = (prefix: string) => defineFlow(db, uniqueSlug(prefix), { steps: ['a', { slug: 'b', deps: ['a'] }] });

let secretTable: string;
beforeAll(async () => {
  secretTable = `public.app_secrets_${Date.now()}`;
  await db.query(`create table ${secretTable} (id int primary key, secret text)`);
  await db.query(`insert into ${secretTable} values (1, 'hunter2')`);
});

describe('granting', () => {
  it('PUBLIC runs no pgflow function, and a role without a level cannot even reach the schema', async () => {
    const [publicRoutines] = await db.query<{ n: number }>(
      `select count(*)::int as n from pg_proc p
        where p.pronamespace = 'pgflow'::regnamespace
          and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0 and a.privilege_type = 'EXECUTE'))`,
    );
    expect(publicRoutines!.n).toBe(0);
    const nobody = await (await role('nobody')).connect(db.url);
    const flow = await twoSteps('nobody');
    expect(await denied(nobody, `select pgflow.version()`)).toMatch(/schema pgflow/);
    await denied(nobody, `select * from pgflow.start_flow($1, '{}')`, [flow]);
    await denied(nobody, `select * from pgflow.runs`);
    await denied(nobody, `select * from pgmq.read($1, 30, 1)`, [flow]);
  });

  it('refuses a role that does not exist, an unknown level and pgflow’s owner, recording nothing', async () => {
    const missing = await errorOf(() => db.query(`select pgflow.grant_worker('no_such_role_anywhere')`));
    expect(missing).toMatchObject({ code: '42704', message: 'role no_such_role_anywhere does not exist' });
    expect(missing.hint).toMatch(/CREATE ROLE/);
    const someone = await role('someone');
    const unknown = await errorOf(() => db.query(`select pgflow.set_role_access($1, 'operator', true)`, [someone.name]));
    expect(unknown).toMatchObject({ code: '22023', message: `unknown access level 'operator': expected worker, client, reader or admin` });
    const [owner] = await db.query<{ name: string }>(`select nspowner::regrole::text as name from pg_namespace where nspname = 'pgflow'`);
    const ownerError = await errorOf(() => db.query(`select pgflow.grant_reader($1)`, [owner!.name]));
    expect(ownerError.message).toContain('owns pgflow');
    expect(await db.query(`select * from pgflow.role_access where role_name in ($1, $2, 'no_such_role_anywhere')`, [someone.name, owner!.name])).toEqual([]);
  });

  it('records each level once in pgflow.role_access, and granting again changes nothing', async () => {
    const someone = await role('twice');
    await db.query(`select pgflow.grant_reader($1)`, [someone.name]);
    const [first] = await db.query<{ granted_at: Date }>(`select granted_at from pgflow.role_access where role_name = $1`, [someone.name]);
    await db.query(`select pgflow.grant_reader($1)`, [someone.name]);
    await db.query(`select pgflow.grant_client($1)`, [someone.name]);
    const rows = await db.query<{ access: string; granted_at: Date }>(`select access, granted_at from pgflow.role_access where role_name = $1 order by access`, [
      someone.name,
    ]);
    expect(rows.map((row) => row.access)).toEqual(['client', 'reader']);
    expect(rows[1]!.granted_at).toEqual(first!.granted_at);
  });
});

describe('worker', () => {
  it('runs the worker protocol: read, start, claim, complete, fail, heartbeat, visibility, polling', async () => {
    const flow = await twoSteps('worker_ok');
    const worker = await connectedAs('worker');
    const workerId = newWorkerId();
    await worker.db.query(`select * from pgflow.register_worker($1, $2, 'roles-test')`, [workerId, flow]);
    expect(await worker.db.query(`select * from pgflow.flows where flow_slug = $1`, [flow])).toHaveLength(1);
    expect(await worker.db.query(`select * from pgflow.steps where flow_slug = $1`, [flow])).toHaveLength(2);
    expect(await worker.db.query(`select * from pgflow.deps where flow_slug = $1`, [flow])).toHaveLength(1);

    const run = await startFlow(db, flow, { n: 1 });
    const messages = await worker.db.query<{ msg_id: string }>(`select * from pgmq.read($1, 30, 5)`, [flow]);
    expect(messages).toHaveLength(1);
    const [task] = await worker.db.query<TaskRecord>(`select * from pgflow.start_tasks($1, $2::bigint[], $3)`, [flow, [messages[0]!.msg_id], workerId]);
    expect(task).toMatchObject({ run_id: run.run_id, step_slug: 'a' });
    await worker.db.query(`select * from pgflow.set_vt_batch($1, $2::bigint[], $3::int[])`, [flow, [messages[0]!.msg_id], [60]]);
    await worker.db.query(`select * from pgflow.fail_task($1, 'a', 0, 'transient')`, [run.run_id]);
    await db.query(`update pgmq.${'q_' + flow} set vt = now()`);
    const [claimed] = await worker.db.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2, 5)`, [flow, workerId]);
    expect(claimed).toMatchObject({ run_id: run.run_id, step_slug: 'a' });
    await worker.db.query(`select * from pgflow.complete_task($1, 'a', 0, '{"ok":1}')`, [run.run_id]);
    const polled = await worker.db.query<TaskRecord>(`select * from pgflow.poll_for_tasks($1, 30, 5, 1, 100)`, [flow]);
    expect(polled.map((row) => row.step_slug)).toEqual(['b']);
    await worker.db.query(`select * from pgflow.complete_tasks($1::uuid[], $2::text[], $3::int[], $4::jsonb[])`, [[run.run_id], ['b'], [0], ['{"ok":2}']]);
    await worker.db.query(`select * from pgflow.heartbeat_worker($1)`, [workerId]);
    await worker.db.query(`select * from pgflow.stop_worker($1)`, [workerId]);
    const [done] = await db.query<RunRow>(`select * from pgflow.runs where run_id = $1`, [run.run_id]);
    expect(done).toMatchObject({ status: 'completed', output: { b: { ok: 2 } } });
  });

  it('cannot write tables, start or define flows, touch queues beyond reading, read runs or other schemas, or grant itself more', async () => {
    const flow = await twoSteps('worker_no');
    const run = await startFlow(db, flow, {});
    const { client, role: self } = await connectedAs('worker');
    await denied(client, `update pgflow.runs set status = 'completed' where run_id = $1`, [run.run_id]);
    await denied(client, `insert into pgflow.flows (flow_slug) values ('sneaky')`);
    await denied(client, `delete from pgflow.step_tasks`);
    await denied(client, `delete from pgmq.${'q_' + flow}`);
    await denied(client, `insert into pgmq.${'q_' + flow} (message) values ('{}')`);
    await denied(client, `select pgmq.delete($1, 1::bigint)`, [flow]);
    await denied(client, `select pgmq.send($1, '{}'::jsonb)`, [flow]);
    await denied(client, `select * from pgflow.create_flow('worker_made')`);
    await denied(client, `select * from pgflow.add_step($1, 'c', array['b'])`, [flow]);
    await denied(client, `select * from pgflow.start_flow($1, '{}')`, [flow]);
    await denied(client, `select * from pgflow.cancel_run($1)`, [run.run_id]);
    await denied(client, `select * from pgflow.runs`);
    await denied(client, `select * from pgflow.step_tasks`);
    await denied(client, `select * from ${secretTable}`);
    await denied(client, `select pgflow.grant_admin($1)`, [self.name]);
    await denied(client, `select pgflow.set_role_access($1, 'admin', true)`, [self.name]);
    const [unchanged] = await db.query<RunRow>(`select * from pgflow.runs where run_id = $1`, [run.run_id]);
    expect(unchanged!.status).toBe('started');
    expect(await db.query(`select * from pgflow.flows where flow_slug = 'worker_made'`)).toEqual([]);
    // What pgmq.read needs, and all the worker may do to a queue table directly: read it and update rows (the
    // visibility and read count of messages), as roles.md says.
    const privileges = await db.query<{ privilege: string; held: boolean }>(
      `select p.privilege, has_table_privilege($1, format('pgmq.%I', 'q_' || $2), p.privilege) as held
       from unnest(array['SELECT', 'UPDATE', 'INSERT', 'DELETE', 'TRUNCATE']) as p(privilege)`,
      [self.name, flow],
    );
    expect(privileges).toEqual([
      { privilege: 'SELECT', held: true },
      { privilege: 'UPDATE', held: true },
      { privilege: 'INSERT', held: false },
      { privilege: 'DELETE', held: false },
      { privilege: 'TRUNCATE', held: false },
    ]);
  });

  it('registers and beats by plain SQL on pgflow.workers, as the reference shows, but cannot delete or deprecate workers', async () => {
    const flow = await twoSteps('worker_sql');
    const worker = await connectedAs('worker');
    const workerId = newWorkerId();
    await worker.db.query(`insert into pgflow.workers (worker_id, queue_name, function_name) values ($1, $2, 'plain-sql')`, [workerId, flow]);
    const [beat] = await worker.db.query<{ deprecated: boolean }>(
      `update pgflow.workers set last_heartbeat_at = now() where worker_id = $1 returning deprecated_at is not null as deprecated`,
      [workerId],
    );
    expect(beat).toEqual({ deprecated: false });
    await worker.db.query(`update pgflow.workers set stopped_at = now() where worker_id = $1`, [workerId]);
    await denied(worker.client, `update pgflow.workers set deprecated_at = now() where worker_id = $1`, [workerId]);
    await denied(worker.client, `update pgflow.workers set queue_name = 'elsewhere' where worker_id = $1`, [workerId]);
    await denied(worker.client, `delete from pgflow.workers where worker_id = $1`, [workerId]);
  });

  it('reads the queue of a flow created after the grant', async () => {
    const worker = await connectedAs('worker');
    const flow = await twoSteps('worker_later');
    await startFlow(db, flow, {});
    expect(await worker.db.query(`select * from pgmq.read($1, 30, 5)`, [flow])).toHaveLength(1);
  });
});

describe('client', () => {
  it('starts runs (with states, idempotently), reads runs, step states and tasks, and listens to events', async () => {
    const flow = await twoSteps('client_ok');
    const client = await connectedAs('client');
    await client.client.query(`listen pgflow_events`);
    const notified = new Promise<string>((resolve) => client.client.once('notification', (message) => resolve(message.payload ?? '')));
    const [run] = await client.db.query<RunRow>(`select * from pgflow.start_flow($1, '{"n":1}')`, [flow]);
    expect(JSON.parse(await notified)).toMatchObject({ event: 'run:started', payload: { run_id: run!.run_id } });
    expect(run).toMatchObject({ flow_slug: flow, status: 'started' });
    const [keyed] = await client.db.query<RunRow>(`select * from pgflow.start_flow($1, '{}', idempotency_key => 'k1')`, [flow]);
    const [again] = await client.db.query<RunRow>(`select * from pgflow.start_flow($1, '{}', idempotency_key => 'k1')`, [flow]);
    expect(again!.run_id).toBe(keyed!.run_id);
    const [withStates] = await client.db.query<{ start_flow_with_states: { run: RunRow } }>(`select pgflow.start_flow_with_states($1, '{}')`, [flow]);
    expect(withStates!.start_flow_with_states.run.flow_slug).toBe(flow);
    const batch = await client.db.query<RunRow>(`select * from pgflow.start_flows($1, array['{"n":2}', '{"n":3}']::jsonb[])`, [flow]);
    expect(batch.map((r) => r.input)).toEqual([{ n: 2 }, { n: 3 }]);
    const [states] = await client.db.query<{ get_run_with_states: { steps: unknown[] } }>(`select pgflow.get_run_with_states($1)`, [run!.run_id]);
    expect(states!.get_run_with_states.steps).toHaveLength(2);
    expect(await client.db.query(`select * from pgflow.step_states where run_id = $1`, [run!.run_id])).toHaveLength(2);
    expect(await client.db.query(`select * from pgflow.step_tasks where run_id = $1`, [run!.run_id])).toHaveLength(1);
  });

  it('cannot run tasks, read queues or workers, define flows, control runs or write tables', async () => {
    const flow = await twoSteps('client_no');
    const run = await startFlow(db, flow, {});
    const { client } = await connectedAs('client');
    await denied(client, `select * from pgmq.read($1, 30, 1)`, [flow]);
    await denied(client, `select * from pgflow.start_tasks($1, array[1]::bigint[], $2)`, [flow, newWorkerId()]);
    await denied(client, `select * from pgflow.complete_task($1, 'a', 0, '{}')`, [run.run_id]);
    await denied(client, `select * from pgflow.create_flow('client_made')`);
    await denied(client, `select * from pgflow.cancel_run($1)`, [run.run_id]);
    await denied(client, `select * from pgflow.pause_flow($1)`, [flow]);
    await denied(client, `update pgflow.runs set status = 'failed' where run_id = $1`, [run.run_id]);
    await denied(client, `delete from pgflow.runs where run_id = $1`, [run.run_id]);
    await denied(client, `select * from pgflow.workers`);
    await denied(client, `select * from ${secretTable}`);
    expect((await db.query<RunRow>(`select * from pgflow.runs where run_id = $1`, [run.run_id]))[0]!.status).toBe('started');
  });
});

describe('reader', () => {
  it('reads every pgflow table and the queues’ metrics', async () => {
    const flow = await twoSteps('reader_ok');
    await startFlow(db, flow, {});
    const reader = await connectedAs('reader');
    for (const table of ['flows', 'steps', 'deps', 'runs', 'step_states', 'step_tasks', 'workers', 'schedules', 'schedule_ticks', 'role_access']) {
      await reader.db.query(`select * from pgflow.${table} limit 1`);
    }
    const [metrics] = await reader.db.query<{ queue_length: string; total_messages: string }>(`select * from pgmq.metrics($1)`, [flow]);
    expect(metrics).toMatchObject({ queue_length: '1', total_messages: '1' });
    const all = await reader.db.query<{ queue_name: string }>(`select * from pgmq.metrics_all()`);
    expect(all.map((row) => row.queue_name)).toContain(flow);
    expect(await reader.db.query(`select * from pgmq.${'a_' + flow}`)).toEqual([]);
    expect(await reader.db.query(`select pgflow.version()`)).toHaveLength(1);
  });

  it('cannot start runs, take tasks, define flows or write anything', async () => {
    const flow = await twoSteps('reader_no');
    const run = await startFlow(db, flow, {});
    const { client } = await connectedAs('reader');
    await denied(client, `select * from pgflow.start_flow($1, '{}')`, [flow]);
    await denied(client, `select * from pgmq.read($1, 30, 1)`, [flow]);
    await denied(client, `select * from pgflow.claim_tasks($1, $2, 1)`, [flow, newWorkerId()]);
    await denied(client, `select * from pgflow.create_flow('reader_made')`);
    await denied(client, `select * from pgflow.retry_run($1)`, [run.run_id]);
    await denied(client, `update pgflow.flows set opt_timeout = 1`);
    await denied(client, `delete from pgmq.${'q_' + flow}`);
    await denied(client, `select * from ${secretTable}`);
  });
});

describe('admin', () => {
  it('defines flows, controls runs, schedules and prunes, and reads everything', async () => {
    const admin = await connectedAs('admin');
    const flow = uniqueSlug('admin_ok');
    await admin.db.query(`select * from pgflow.create_flow($1, max_attempts => 1)`, [flow]);
    await admin.db.query(`select * from pgflow.add_step($1, 'a')`, [flow]);
    const [run] = await admin.db.query<RunRow>(`select * from pgflow.start_flow($1, '{}')`, [flow]);
    await admin.db.query(`select * from pgflow.pause_flow($1)`, [flow]);
    await admin.db.query(`select * from pgflow.resume_flow($1)`, [flow]);
    const [cancelled] = await admin.db.query<RunRow>(`select * from pgflow.cancel_run($1, 'by admin')`, [run!.run_id]);
    expect(cancelled!.status).toBe('cancelled');
    const [retried] = await admin.db.query<RunRow>(`select * from pgflow.retry_run($1)`, [run!.run_id]);
    expect(retried!.status).toBe('started');
    await admin.db.query(`select * from pgflow.schedule_flow($1, 'nightly', '0 3 * * *', '{}')`, [flow]);
    await admin.db.query(`select * from pgflow.unschedule_flow($1, 'nightly')`, [flow]);
    await admin.db.query(`select * from pgflow.prune_batch('30 days', 100)`);
    await admin.client.query(`call pgflow.prune('30 days')`);
    expect(await admin.db.query(`select * from pgflow.workers limit 1`)).toBeDefined();
    expect(await admin.db.query(`select * from pgmq.metrics($1)`, [flow])).toHaveLength(1);
  });

  it('cannot write tables directly, run tasks, grant levels or reach other schemas', async () => {
    const flow = await twoSteps('admin_no');
    const run = await startFlow(db, flow, {});
    const { client, role: self } = await connectedAs('admin');
    const other = await role('other');
    await denied(client, `update pgflow.runs set status = 'completed' where run_id = $1`, [run.run_id]);
    await denied(client, `delete from pgflow.flows where flow_slug = $1`, [flow]);
    await denied(client, `delete from pgmq.${'q_' + flow}`);
    await denied(client, `select * from pgmq.read($1, 30, 1)`, [flow]);
    await denied(client, `select * from pgflow.complete_task($1, 'a', 0, '{}')`, [run.run_id]);
    await denied(client, `select pgflow.grant_worker($1)`, [other.name]);
    await denied(client, `select pgflow.revoke_admin($1)`, [self.name]);
    await denied(client, `select pgmq.drop_queue($1)`, [flow]);
    await denied(client, `select * from ${secretTable}`);
    expect(await db.query(`select * from pgflow.role_access where role_name = $1`, [other.name])).toEqual([]);
  });
});

describe('revoking', () => {
  it('takes one level back and keeps what the role’s other levels need', async () => {
    const flow = await twoSteps('revoke');
    await startFlow(db, flow, {});
    const both = await connectedAs('worker');
    await db.query(`select pgflow.grant_reader($1)`, [both.role.name]);
    await db.query(`select pgflow.revoke_reader($1)`, [both.role.name]);
    // Reading the flows and the queue came with both levels; the worker level still needs them.
    expect(await both.db.query(`select * from pgflow.flows where flow_slug = $1`, [flow])).toHaveLength(1);
    expect(await both.db.query(`select * from pgmq.read($1, 30, 1)`, [flow])).toHaveLength(1);
    await denied(both.client, `select * from pgflow.runs`);
    await denied(both.client, `select * from pgmq.metrics($1)`, [flow]);
    expect((await db.query<{ access: string }>(`select access from pgflow.role_access where role_name = $1`, [both.role.name])).map((row) => row.access)).toEqual([
      'worker',
    ]);

    await db.query(`select pgflow.revoke_worker($1)`, [both.role.name]);
    expect(await db.query(`select * from pgflow.role_access where role_name = $1`, [both.role.name])).toEqual([]);
    await denied(both.client, `select * from pgflow.flows`);
    await denied(both.client, `select * from pgmq.read($1, 30, 1)`, [flow]);
    await denied(both.client, `select * from pgflow.claim_tasks($1, $2, 1)`, [flow, newWorkerId()]);
  });
});

describe('releases', () => {
  it('a functions migration re-grants what it replaces or adds to the levels recorded before it', async () => {
    const flow = await twoSteps('release');
    const worker = await connectedAs('worker');
    // What a release does to a function whose signature changes: drop it and create it anew (EXECUTE goes to nobody).
    const [definition] = await db.query<{ sql: string }>(`select pg_get_functiondef('pgflow.heartbeat_worker(uuid)'::regprocedure) as sql`);
    await db.query(`drop function pgflow.heartbeat_worker(uuid)`);
    await db.query(definition!.sql);
    await db.query(`revoke execute on function pgflow.heartbeat_worker(uuid) from public`);
    await denied(worker.client, `select * from pgflow.heartbeat_worker($1)`, [newWorkerId()]);
    await db.query(`grant execute on function pgflow.heartbeat_worker(uuid) to public`);
    const migration = readMigrations().at(-1)!;
    const access = migration.statements.slice(migration.statements.findIndex((statement) => statement.includes('revoke execute on all routines')));
    expect(access.at(-1)).toContain('pgflow.refresh_grants()');
    for (const statement of access) await db.query(statement);
    const workerId = newWorkerId();
    await worker.db.query(`select * from pgflow.register_worker($1, $2, 'roles-test')`, [workerId, flow]);
    await worker.db.query(`select * from pgflow.heartbeat_worker($1)`, [workerId]);
    const [publicAfter] = await db.query<{ granted: boolean }>(`select has_function_privilege('public', 'pgflow.heartbeat_worker(uuid)', 'execute') as granted`);
    expect(publicAfter!.granted).toBe(false);
  });

  it('names the roles that use schema pgflow without a recorded level', async () => {
    const legacy = await role('legacy');
    await db.query(`grant usage on schema pgflow to "${legacy.name}"`);
    const client = await db.connect();
    const notices: string[] = [];
    client.on('notice', (notice) => notices.push(notice.message ?? ''));
    await client.query(`select pgflow.refresh_grants()`);
    expect(notices.join('\n')).toContain(legacy.name);
    await db.query(`revoke usage on schema pgflow from "${legacy.name}"`);
  });
});

describe('a non-superuser owner', () => {
  it('installs pgflow, grants levels, and its worker and client roles run a flow', async () => {
    const owner = await role('owner');
    const name = await createDatabase(false);
    ownerDatabases.push(name);
    await withAdminClient((admin) => admin.query(`alter database "${name}" owner to "${owner.name}"`));
    const ownerClient = await owner.connect(databaseUrl(name));
    await applyMigrations(ownerClient, readMigrations());
    const asOwner = onClient(ownerClient);
    const worker = await role('owned_worker');
    const client = await role('owned_client');
    await asOwner.query(`select pgflow.grant_worker($1)`, [worker.name]);
    await asOwner.query(`select pgflow.grant_client($1)`, [client.name]);
    const flow = await defineFlow(asOwner, uniqueSlug('owned'), { steps: ['only'] });
    const asClient = onClient(await client.connect(databaseUrl(name)));
    const asWorker = onClient(await worker.connect(databaseUrl(name)));
    const [run] = await asClient.query<RunRow>(`select * from pgflow.start_flow($1, '{"x":1}')`, [flow]);
    const workerId = newWorkerId();
    const [task] = await asWorker.query<TaskRecord>(`select * from pgflow.claim_tasks($1, $2, 1)`, [flow, workerId]);
    expect(task).toMatchObject({ run_id: run!.run_id, step_slug: 'only' });
    await asWorker.query(`select * from pgflow.complete_task($1, 'only', 0, '{"y":2}')`, [run!.run_id]);
    const [done] = await asClient.query<RunRow>(`select * from pgflow.runs where run_id = $1`, [run!.run_id]);
    expect(done).toMatchObject({ status: 'completed', output: { only: { y: 2 } } });
    await ownerClient.end();
  });
});

describe('the docs', () => {
  it('runs the SQL of docs/guides/roles.md as written (with role names made unique on this server)', async () => {
    const page = readFileSync(`${packageRoot}/docs/guides/roles.md`, 'utf8');
    const block = /```sql\n([\s\S]*?)```/.exec(page)![1]!;
    const suffix = randomBytes(3).toString('hex');
    const names = ['pgflow_worker', 'app_backend', 'ops', 'grafana'];
    const sql = names.reduce((text, name) => text.replace(new RegExp(`\\b${name}\\b`, 'g'), `${name}_${suffix}`), block);
    const unique = names.map((name) => `"${name}_${suffix}"`).join(', ');
    try {
      const statements = sql.split(';').map((statement) => statement.replace(/--[^\n]*/g, '').trim()).filter(Boolean);
      expect(statements.length).toBeGreaterThanOrEqual(10);
      for (const statement of statements) await db.query(statement);
      const rows = await db.query<{ role_name: string; access: string }>(
        `select role_name, access from pgflow.role_access where role_name like '%\\_' || $1 order by role_name`,
        [suffix],
      );
      expect(rows.map((row) => [row.role_name.replace(`_${suffix}`, ''), row.access])).toEqual([
        ['grafana', 'reader'],
        ['ops', 'admin'],
        ['pgflow_worker', 'worker'],
      ]);
    } finally {
      await db.query(`drop owned by ${unique}`).catch(() => {});
      await withAdminClient((admin) => admin.query(`drop role if exists ${unique}`));
    }
  });
});
