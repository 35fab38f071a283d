/**
 * startWorker refuses wrong options before it connects: each case below
 * points at a database that does not exist, so only the options' check can
 * answer, with a TypeError naming the first option that is wrong.
 */
import { describe, expect, it } from 'vitest';
import { Flow } from '../../src/flow/index.js';
import { startWorker, type WorkerOptions } from '../../src/worker/index.js';

const nowhere = 'postgres://pgflow:pgflow@127.0.0.1:1/nowhere';
const flow = new Flow({ slug: 'options_a' }).step({ slug: 'one' }, () => 1);
const other = new Flow({ slug: 'options_b' }).step({ slug: 'one' }, () => 1);

describe('startWorker options', () => {
  it.each<[string, Partial<WorkerOptions>, string]>([
    ['no flows', { flows: [] }, 'startWorker: flows must list at least one flow'],
    ['flows that are not an array', { flows: flow as unknown as WorkerOptions['flows'] }, 'startWorker: flows must list at least one flow'],
    ['something else than a Flow', { flows: [{ slug: 'fake' } as unknown as typeof flow] }, 'startWorker: flows must contain Flow objects'],
    ['a flow twice', { flows: [flow, other, flow] }, 'startWorker: flow "options_a" is listed more than once'],
    ['concurrency 0', { concurrency: 0 }, 'startWorker: concurrency must be a whole number of at least 1 (got 0)'],
    ['a fractional batchSize', { batchSize: 1.5 }, 'startWorker: batchSize must be a whole number of at least 1 (got 1.5)'],
    ['pollInterval 0', { pollInterval: 0 }, 'startWorker: pollInterval must be a whole number of at least 1 (got 0)'],
    ['a negative heartbeatInterval', { heartbeatInterval: -5 }, 'startWorker: heartbeatInterval must be a whole number of at least 1 (got -5)'],
    ['a negative gracePeriod', { gracePeriod: -1 }, 'startWorker: gracePeriod must be a whole number of at least 0 (got -1)'],
    ['schedules.catchUp 0', { schedules: { catchUp: 0 } }, 'startWorker: schedules.catchUp must be a whole number of at least 1 (got 0)'],
    ['schedules.refreshInterval 0', { schedules: { refreshInterval: 0 } }, 'startWorker: schedules.refreshInterval must be a whole number of at least 1 (got 0)'],
    ['neither connectionString nor pool', { connectionString: undefined }, 'startWorker: pass connectionString or pool'],
    ['a workerId that is not a UUID', { workerId: 'worker-1' }, 'workerId must be a UUID (got "worker-1")'],
  ])('refuses %s', async (_, options, message) => {
    const attempt = startWorker({ connectionString: nowhere, flows: [flow], ...options });
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(attempt).rejects.toThrow(message);
  });

  it('checks the flows first, then the numbers in the order of the options, then the connection', async () => {
    await expect(startWorker({ connectionString: nowhere, flows: [], concurrency: 0 })).rejects.toThrow('flows must list at least one flow');
    await expect(startWorker({ connectionString: nowhere, flows: [flow], concurrency: 0, batchSize: 0 })).rejects.toThrow('concurrency must be');
    await expect(startWorker({ flows: [flow], gracePeriod: -1 })).rejects.toThrow('gracePeriod must be');
  });

  it('takes the smallest values allowed (gracePeriod 0): the start gets as far as the database', async () => {
    // An aborted signal makes the start give up at the first unreachable database instead of retrying.
    const starting = new AbortController();
    starting.abort();
    const options = { concurrency: 1, batchSize: 1, pollInterval: 1, heartbeatInterval: 1, gracePeriod: 0, schedules: { catchUp: 1, refreshInterval: 1 } };
    await expect(startWorker({ connectionString: nowhere, flows: [flow, other], signal: starting.signal, ...options })).rejects.toThrow('ECONNREFUSED');
  });
});
