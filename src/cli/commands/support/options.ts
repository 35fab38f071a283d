/**
 * Option parsing shared by the commands: whole numbers, the database URL as
 * it is shown to the user, and errors raised by a command.
 */
import { InvalidArgumentError } from 'commander';
import { CliError } from '../../command.js';

/** A commander argument parser for whole numbers of at least `minimum`. */
export function wholeNumber(minimum: number): (value: string) => number {
  return (value: string) => {
    const parsed = Number(value);
    if (value.trim() === '' || !Number.isInteger(parsed) || parsed < minimum) {
      throw new InvalidArgumentError(`expected a whole number of at least ${minimum}`);
    }
    return parsed;
  };
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/:\/\/([^:/@]+):[^@/]*@/, '://$1:***@');
  }
}

/** Error codes node-postgres and Node report when the server cannot be reached. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ECONNRESET']);

/**
 * Turns the errors of connecting to the database into a one-line CliError
 * (unreachable server, unknown database, bad password); other errors are
 * passed through.
 */
export function connectionProblem(error: unknown, url: string): unknown {
  const code = (error as { code?: string } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code !== undefined && UNREACHABLE.has(code)) return new CliError(`cannot connect to ${redactUrl(url)}: ${message || code}`);
  // invalid_catalog_name, invalid_password, invalid_authorization_specification
  if (code === '3D000' || code === '28P01' || code === '28000') return new CliError(`cannot connect to ${redactUrl(url)}: ${message}`);
  if (error instanceof Error && /connection terminated|timeout expired/i.test(message)) return new CliError(`cannot connect to ${redactUrl(url)}: ${message}`);
  return error;
}
