/**
 * `npm run bench` — the benchmark's command line. Parses the options and runs
 * the plan (bench/plan.ts); exits non-zero when a measurement fails to verify.
 */
import { Command, Option } from 'commander';
import { DEFAULTS, PROTOCOL_NAMES, QUICK, SCENARIO_NAMES, parseCount, parseList, parseMajor, parseRates, parseSeconds, type BenchConfig } from './config.js';
import { findPgbench } from './ceiling.js';
import { runBenchmark } from './plan.js';

const program = new Command('bench')
  .description(
    'Measures pgflow-orm throughput (steps/s, runs/s, start_flow/s) and run latency with W worker connections, ' +
      'against the hardware ceiling of the same server (a one-row UPDATE loop and pgbench -N). ' +
      'Starts an embedded PostgreSQL with default settings, or uses DATABASE_URL when set.',
  )
  .option('-w, --workers <n>', 'worker connections (W), or startWorker instances for worker protocols (default: per-task 8, batched 2, worker 1, worker-tuned 2)', (v) => parseCount(v, '--workers'))
  .option('-r, --runs <n>', 'runs started and drained per measurement (R; default: chain 3000, fanout 1000, wide 200, about 10,000 tasks each)', (v) => parseCount(v, '--runs'))
  .option('-b, --batch <n>', 'messages read (per-task) or tasks claimed (batched, worker) per call (default: per-task 10, batched 100, worker 10, worker-tuned 100)', (v) => parseCount(v, '--batch'))
  .addOption(
    new Option('-s, --scenario <list>', `comma-separated: ${SCENARIO_NAMES.join(', ')}`)
      .argParser((v) => parseList(v, SCENARIO_NAMES, '--scenario'))
      .default(DEFAULTS.scenarios, 'all'),
  )
  .addOption(
    new Option('-p, --protocol <list>', `comma-separated: ${PROTOCOL_NAMES.join(', ')}`)
      .argParser((v) => parseList(v, PROTOCOL_NAMES, '--protocol'))
      .default(DEFAULTS.protocols, 'all'),
  )
  .option('--with-history <runs>', 'also measure with this many finished runs already in the tables (0 = skip)', (v) => parseCount(v, '--with-history', 0), DEFAULTS.history)
  .option('--ceiling-seconds <s>', 'length of each ceiling measurement', (v) => parseSeconds(v, '--ceiling-seconds'), DEFAULTS.ceilingSeconds)
  .option('--ceiling-once', 'measure the ceilings only before the scenarios (default: before and after, mean of both)')
  .option('--pgbench <path>', 'pgbench binary (default: pgbench on PATH)')
  .option('--no-pgbench', 'skip the pgbench ceiling')
  .option('--pgbench-scale <n>', 'pgbench -i scale factor', (v) => parseCount(v, '--pgbench-scale'), DEFAULTS.pgbenchScale)
  .option('--pgbench-clients <n>', 'pgbench -c and -j', (v) => parseCount(v, '--pgbench-clients'), DEFAULTS.pgbenchClients)
  .addOption(new Option('--pg <major>', 'embedded PostgreSQL major version, 14-18 (ignored with DATABASE_URL)').argParser(parseMajor).default(DEFAULTS.major))
  .option('--idle-ms <ms>', 'wait between polls of an empty queue', (v) => parseCount(v, '--idle-ms', 0), DEFAULTS.idleMs)
  .option('--timeout <s>', 'fail when a measurement has not drained after this many seconds', (v) => parseSeconds(v, '--timeout'), DEFAULTS.timeoutSeconds)
  .option('--profile', 'load pg_stat_statements (changes the server) and print where server time goes per measurement')
  .option('--without-events', 'diagnostic: replace the engine\'s pg_notify calls with no-ops in the benchmark databases, to show what events cost')
  .option('--json <file>', 'also write every figure to a JSON file')
  .option('--keep-databases', 'keep the benchmark databases (DATABASE_URL; the embedded server is always removed)')
  .option('--upstream', 'also measure pgflow 0.8.1 itself (from @pgflow/core, per-task protocol) on the same server')
  .option('--citus <url>', 'also measure on a Citus cluster: its coordinator\'s URL (a user that may create databases on every node); the batched and worker protocols among -p, R a tenth of the default')
  .option('--prune-during', 'with --with-history: measure each history case again while pgflow.prune_batch deletes the history on its own connection')
  .option('--prune-batch <n>', 'runs per prune_batch call for --prune-during', (v) => parseCount(v, '--prune-batch'), DEFAULTS.pruneBatch)
  .option('--batched-starts <runs>', 'runs started with pgflow.start_flows in batches of 100 on pgbench\'s number of connections (0 = skip)', (v) => parseCount(v, '--batched-starts', 0), DEFAULTS.batchedStarts)
  .option('--latency-rates <list>', 'arrival rates (runs/s) of the latency scenario: 3-step chain runs started at a fixed rate, one idle startWorker ("none" skips it)', parseRates, DEFAULTS.latencyRates)
  .option('--latency-seconds <s>', 'how long runs arrive at each latency rate', (v) => parseSeconds(v, '--latency-seconds'), DEFAULTS.latencySeconds)
  .option('--quick', `small and fast, for CI: R=${QUICK.runs}, history ${QUICK.history} (measured again while pruning it), ${QUICK.ceilingSeconds} s ceilings, pgbench scale ${QUICK.pgbenchScale}`)
  .showHelpAfterError();

interface CliOptions {
  workers?: number;
  runs?: number;
  batch?: number;
  scenario: BenchConfig['scenarios'];
  protocol: BenchConfig['protocols'];
  withHistory: number;
  ceilingSeconds: number;
  ceilingOnce?: boolean;
  pgbench?: string | boolean;
  pgbenchScale: number;
  pgbenchClients: number;
  pg: BenchConfig['major'];
  idleMs: number;
  timeout: number;
  profile?: boolean;
  withoutEvents?: boolean;
  json?: string;
  keepDatabases?: boolean;
  upstream?: boolean;
  citus?: string;
  pruneDuring?: boolean;
  pruneBatch: number;
  batchedStarts: number;
  latencyRates: number[];
  latencySeconds: number;
  quick?: boolean;
}

function toConfig(cli: CliOptions): BenchConfig {
  const quick = cli.quick === true;
  const given = (name: keyof CliOptions) => program.getOptionValueSource(name) === 'cli';
  const pick = <K extends keyof BenchConfig>(key: K, option: keyof CliOptions, value: BenchConfig[K]): BenchConfig[K] =>
    quick && !given(option) && QUICK[key] !== undefined ? (QUICK[key] as BenchConfig[K]) : value;
  const pgbench = cli.pgbench === false ? null : findPgbench(typeof cli.pgbench === 'string' ? cli.pgbench : undefined);
  if (typeof cli.pgbench === 'string' && pgbench === null) program.error(`--pgbench: ${cli.pgbench} is not an executable file`);
  return {
    workers: cli.workers ?? null,
    runs: pick('runs', 'runs', cli.runs ?? null),
    batchSize: cli.batch ?? null,
    scenarios: cli.scenario,
    protocols: cli.protocol,
    history: pick('history', 'withHistory', cli.withHistory),
    ceilingSeconds: pick('ceilingSeconds', 'ceilingSeconds', cli.ceilingSeconds),
    ceilingTwice: cli.ceilingOnce === true ? false : pick('ceilingTwice', 'ceilingOnce', DEFAULTS.ceilingTwice),
    pgbench,
    pgbenchScale: pick('pgbenchScale', 'pgbenchScale', cli.pgbenchScale),
    pgbenchClients: cli.pgbenchClients,
    major: cli.pg,
    idleMs: cli.idleMs,
    timeoutSeconds: pick('timeoutSeconds', 'timeout', cli.timeout),
    profile: cli.profile === true,
    withoutEvents: cli.withoutEvents === true,
    jsonFile: cli.json ?? null,
    keepDatabases: cli.keepDatabases === true,
    upstream: cli.upstream === true,
    citus: cli.citus ?? null,
    pruneDuring: pick('pruneDuring', 'pruneDuring', cli.pruneDuring === true),
    pruneBatch: cli.pruneBatch,
    batchedStarts: pick('batchedStarts', 'batchedStarts', cli.batchedStarts),
    latencyRates: cli.latencyRates,
    latencySeconds: pick('latencySeconds', 'latencySeconds', cli.latencySeconds),
    quick,
  };
}

let exitCode = 0;
program.action(async (cli: CliOptions) => {
  const config = toConfig(cli);
  if (config.pruneDuring && config.history === 0) program.error('--prune-during needs history to prune: add --with-history <runs>');
  const ok = await runBenchmark(config, (line) => console.log(line));
  if (!ok) exitCode = 1;
});

// Exit explicitly, so no handle left open by a failed measurement keeps the process alive.
program.parseAsync().then(
  () => process.exit(exitCode),
  (error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  },
);
