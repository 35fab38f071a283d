/**
 * The order of the benchmark: server → template with pgflow installed →
 * ceilings → (history fill) → each scenario × protocol in a fresh copy of the
 * template (and again with history, and with --prune-during once more in a
 * fresh copy of the full history while a prune deletes it) → ceilings again
 * → report. Cleans up the server and databases on the way out, also on
 * Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import { initPgbench, measurePgbench, measureUpdateLoop, pgbenchVersion, prepareUpdateLoop } from './ceiling.js';
import { ceilingWorkers, type BenchConfig } from './config.js';
import { fillHistory } from './history.js';
import { installTemplate } from './install.js';
import { measureBatchedStarts, type BatchedStartResult } from './start-batched.js';
import { describeLatency, measureLatency, type LatencyResult } from './latency.js';
import { measureCase, type CaseResult } from './measure-case.js';
import {
  formatCases,
  formatCeilings,
  formatHeader,
  formatLatency,
  formatProfile,
  formatRatios,
  formatSummary,
  formatUpstream,
  formatCitus,
  writeJson,
  type BenchReport,
  type Ceilings,
} from './report.js';
import { SCENARIOS } from './scenarios.js';
import { silenceEvents } from './silence-events.js';
import { installUpstreamTemplate, UPSTREAM_LABEL } from './upstream.js';
import { measureOnCitus, readCitusFacts } from './citus.js';
import { acquireServer, adminDatabase, Databases, readServerFacts, withClient, type BenchServer } from './server.js';

type Log = (line: string) => void;

async function measureCeilings(config: BenchConfig, databases: Databases, ceilingDb: string, pgbenchDb: string | null, ceilings: Ceilings, log: Log): Promise<void> {
  const loop = await measureUpdateLoop(databases.url(ceilingDb), ceilingWorkers(config), config.ceilingSeconds);
  ceilings.updateLoop.push(loop);
  log(`  UPDATE loop: ${Math.round(loop.tps)} TPS`);
  const notify = await measureUpdateLoop(databases.url(ceilingDb), ceilingWorkers(config), config.ceilingSeconds, { notify: true });
  ceilings.notifyLoop.push(notify);
  log(`  UPDATE + pg_notify loop: ${Math.round(notify.tps)} TPS`);
  if (config.pgbench && pgbenchDb) {
    const bench = await measurePgbench(config.pgbench, databases.url(pgbenchDb), config.pgbenchClients, config.ceilingSeconds);
    ceilings.pgbench.push(bench);
    log(`  pgbench -N: ${Math.round(bench.tps)} TPS`);
  }
}

async function prepareCeilings(config: BenchConfig, databases: Databases, ceilings: Ceilings, log: Log): Promise<{ ceilingDb: string; pgbenchDb: string | null }> {
  const ceilingDb = await databases.create('ceiling');
  await prepareUpdateLoop(databases.url(ceilingDb), ceilingWorkers(config));
  if (!config.pgbench) return { ceilingDb, pgbenchDb: null };
  try {
    const pgbenchDb = await databases.create('pgbench');
    ceilings.pgbenchNote = await pgbenchVersion(config.pgbench);
    log(`  pgbench -i -s ${config.pgbenchScale} (${ceilings.pgbenchNote})`);
    await initPgbench(config.pgbench, databases.url(pgbenchDb), config.pgbenchScale);
    return { ceilingDb, pgbenchDb };
  } catch (error) {
    ceilings.pgbenchNote = `pgbench failed: ${error instanceof Error ? error.message : String(error)}`;
    log(`  ${ceilings.pgbenchNote}`);
    return { ceilingDb, pgbenchDb: null };
  }
}

function describeCase(c: CaseResult): string {
  const verdict = c.ok ? 'verified' : `VERIFICATION FAILED: ${c.problems.join('; ')}`;
  const prune = c.prune ? `; prune deleted ${c.prune.runs} runs (${Math.round(c.prune.runsPerSecond)}/s)${c.prune.exhausted ? ', all the history' : ''}` : '';
  return `  ${c.scenario}/${c.protocol}/${c.tables}: start_flow ${Math.round(c.startFlowPerSecond)}/s, ${Math.round(c.stepsPerSecond)} steps/s, ${Math.round(c.runsPerSecond)} runs/s${prune} — ${verdict}`;
}

export async function runBenchmark(config: BenchConfig, log: Log): Promise<boolean> {
  const startedAt = new Date().toISOString();
  log(process.env.DATABASE_URL ? 'Using DATABASE_URL' : `Starting embedded PostgreSQL ${config.major}${config.profile ? ' with pg_stat_statements' : ''}...`);
  let server: BenchServer | undefined;
  let databases: Databases | undefined;
  const cleanup = async () => {
    if (databases && server && !server.embedded && !config.keepDatabases) await databases.dropAll();
    await server?.stop();
  };
  const onSignal = () => {
    log('Interrupted; cleaning up');
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    server = await acquireServer({ major: config.major, profile: config.profile });
    const facts = await readServerFacts(server.urlFor(adminDatabase()));
    if (config.profile && !facts.pgStatStatementsLoaded) throw new Error('--profile needs pg_stat_statements in shared_preload_libraries on this server');
    databases = new Databases(server, `pgflow_bench_${randomBytes(3).toString('hex')}`);
    const scenarios = config.scenarios.map((name) => SCENARIOS[name]);

    const template = await databases.create('template');
    const install = await installTemplate(databases.url(template), scenarios, { profile: config.profile });
    if (config.withoutEvents) {
      const silenced = await withClient(databases.url(template), silenceEvents);
      log(`--without-events: replaced ${silenced.join(', ') || 'nothing (no function calls pg_notify)'} with no-ops`);
    }
    const header = { server: server.description, facts, pgflowVersion: install.pgflowVersion, queue: install.queue, config };
    log(formatHeader(header));

    const ceilings: Ceilings = { updateLoop: [], notifyLoop: [], pgbench: [], pgbenchNote: config.pgbench ? '' : 'no pgbench binary found (or --no-pgbench)' };
    log(`Measuring the ceiling (${config.ceilingSeconds} s each)`);
    const { ceilingDb, pgbenchDb } = await prepareCeilings(config, databases, ceilings, log);
    await measureCeilings(config, databases, ceilingDb, pgbenchDb, ceilings, log);

    let history: BenchReport['history'];
    let historyDb: string | undefined;
    let pristineHistory: string | undefined;
    if (config.history > 0) {
      log(`Filling a copy of the template with ${config.history} finished runs`);
      historyDb = await databases.create('history', template);
      history = await withClient(databases.url(historyDb), (client) => fillHistory(client, scenarios, config.history, log));
      log(`  done in ${history.seconds.toFixed(1)} s, database ${(history.databaseBytes / 1024 ** 2).toFixed(0)} MB (vacuumed and analyzed)`);
      // --prune-during: each prune measurement gets a fresh copy of the full history, so one prune cannot leave the next nothing to delete.
      if (config.pruneDuring) pristineHistory = await databases.create('history_pristine', historyDb);
    }

    const cases: CaseResult[] = [];
    log('Measuring');
    for (const scenario of scenarios) {
      for (const protocol of config.protocols) {
        const db = await databases.create(`${scenario.name}_${protocol.replace('-', '_')}`, template);
        const empty = await measureCase(databases.url(db), scenario, protocol, 'empty', config);
        await databases.drop(db);
        cases.push(empty);
        log(describeCase(empty));
        if (historyDb) {
          const withHistory = await measureCase(databases.url(historyDb), scenario, protocol, 'history', config);
          cases.push(withHistory);
          log(describeCase(withHistory));
          if (pristineHistory) {
            const copy = await databases.create(`${scenario.name}_${protocol.replace('-', '_')}_prune`, pristineHistory);
            const pruning = await measureCase(databases.url(copy), scenario, protocol, 'history+prune', config);
            await databases.drop(copy);
            cases.push(pruning);
            log(describeCase(pruning));
          }
        }
      }
    }

    const upstream: CaseResult[] = [];
    if (config.upstream) {
      log(`Measuring ${UPSTREAM_LABEL} (per-task protocol, its own database)`);
      const upstreamTemplate = await databases.create('upstream');
      await installUpstreamTemplate(databases.url(upstreamTemplate), scenarios);
      for (const scenario of scenarios) {
        const db = await databases.create(`${scenario.name}_upstream`, upstreamTemplate);
        const measured = await measureCase(databases.url(db), scenario, 'per-task', 'empty', config);
        await databases.drop(db);
        upstream.push(measured);
        log(describeCase(measured).replace(`${scenario.name}/`, `${scenario.name}/${UPSTREAM_LABEL}/`));
      }
    }

    let citus: BenchReport['citus'];
    if (config.citus) {
      const facts = await readCitusFacts(config.citus);
      log(`Measuring on ${facts.cluster} (a fresh distributed database per measurement, workers on the coordinator)`);
      citus = { cluster: facts.cluster, cases: await measureOnCitus(config.citus, scenarios, config, log) };
    }

    let batchedStart: BatchedStartResult | undefined;
    const startScenario = scenarios.find((scenario) => !scenario.mapsOverRuns);
    if (config.batchedStarts > 0 && startScenario) {
      const db = await databases.create('start_flows', template);
      batchedStart = await measureBatchedStarts(databases.url(db), startScenario, config.pgbenchClients, 100, config.batchedStarts);
      await databases.drop(db);
      log(
        `  ${startScenario.name}/start_flows: ${Math.round(batchedStart.runsPerSecond)} runs/s (W=${batchedStart.workers}, batches of ${batchedStart.batchSize}) — ` +
          (batchedStart.ok ? 'verified' : `VERIFICATION FAILED: ${batchedStart.problems.join('; ')}`),
      );
    }

    const latency: LatencyResult[] = [];
    if (config.latencyRates.length > 0) {
      log(`Measuring latency: 3-step chain runs arriving at ${config.latencyRates.join(', ')} runs/s for ${config.latencySeconds} s each, one idle startWorker`);
      for (const rate of config.latencyRates) {
        const db = await databases.create(`latency_${String(rate).replace('.', '_')}`, template);
        const measured = await measureLatency(databases.url(db), rate, config.latencySeconds, config.timeoutSeconds);
        await databases.drop(db);
        latency.push(measured);
        log(describeLatency(measured));
      }
    }

    if (config.ceilingTwice) {
      log('Measuring the ceiling again');
      await measureCeilings(config, databases, ceilingDb, pgbenchDb, ceilings, log);
    }

    const report: BenchReport = {
      ...header,
      ceilings,
      ...(history ? { history } : {}),
      cases,
      ...(upstream.length > 0 ? { upstream } : {}),
      ...(citus ? { citus } : {}),
      ...(latency.length > 0 ? { latency } : {}),
      ...(batchedStart ? { batchedStart } : {}),
      startedAt,
      finishedAt: new Date().toISOString(),
    };
    log('');
    log(formatCeilings(ceilings, config));
    log('');
    log(formatCases(cases));
    log('');
    log('Throughput as a ratio to the ceiling');
    log(formatRatios(cases, ceilings));
    if (upstream.length > 0) {
      log('');
      log(formatUpstream(report));
    }
    if (citus) {
      log('');
      log(formatCitus(report));
    }
    if (latency.length > 0) {
      log('');
      log(formatLatency(latency));
    }
    for (const c of cases) if (c.profile) log(`\n${formatProfile(c, c.drainSeconds)}`);
    log('');
    log(formatSummary(report));
    if (config.jsonFile) {
      await writeJson(config.jsonFile, report);
      log(`\nWrote ${config.jsonFile}`);
    }
    return cases.every((c) => c.ok) && (citus?.cases ?? []).every((c) => c.ok) && latency.every((l) => l.ok) && batchedStart?.ok !== false;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}
