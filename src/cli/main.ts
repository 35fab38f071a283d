#!/usr/bin/env node
/**
 * The `pgflow-orm` command. Each command lives in its own module under
 * ./commands/ and is listed in ./commands/index.ts.
 */
import { runCli } from './program.js';

// Output piped into a command that stops reading early (`pgflow-orm sql | head`) is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await runCli(process.argv);
