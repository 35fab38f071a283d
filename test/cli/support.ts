/**
 * Runs the `pgflow-orm` CLI as a child process, the way a user runs it:
 * `node --import tsx src/cli/main.ts <args>` (from the repository root unless
 * a test says otherwise).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { repoRoot } from '../support/paths.js';

export { repoRoot };
export const fixtures = join(repoRoot, 'test', 'cli', 'fixtures', 'flows.ts');
/** The repository's tsx loader, by URL, so the CLI runs from any working directory. */
const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment; a key set to undefined is removed (e.g. DATABASE_URL). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  timeoutMs?: number;
}

function environment(extra: CliOptions['env'] = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  // The test process may run with a DATABASE_URL of its own; the CLI only gets the one a test passes.
  delete env.DATABASE_URL;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/** A running CLI process whose output is collected. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr or stdout matches `pattern`; rejects when the process exits first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when the process has exited. */
  exited: Promise<CliResult>;
}

export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, ['--import', tsxLoader, join(repoRoot, 'src', 'cli', 'main.ts'), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: environment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const watcher of watchers) watcher();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const watcher of watchers) watcher();
  });
  const timeout = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const exited = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      for (const watcher of watchers) watcher();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => finish(new Error(`timed out waiting for ${pattern}\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`)), timeoutMs);
        const finish = (error?: Error) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (pattern.test(stderr) || pattern.test(stdout)) finish();
          else if (done) finish(new Error(`the process exited before ${pattern} appeared\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`));
        };
        watchers.add(check);
        check();
      });
    },
  };
}

/** Runs the CLI to the end and resolves with its exit code and output. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}

/** Like `cli`, but rejects with the output unless the exit code is 0. */
export async function cliOk(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const result = await cli(args, options);
  if (result.code !== 0) {
    throw new Error(`pgflow-orm ${args.join(' ')} exited with ${result.code ?? result.signal}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`);
  }
  return result;
}
