/**
 * Checks of the arguments the typed wrappers send, made before any query so
 * that a bad value fails with an error naming the method, the argument and
 * the value, instead of a driver or cast error (`invalid input syntax for
 * type uuid`, `unsupported Unicode escape sequence`, ...) — and without a
 * round trip.
 *
 * What is checked is what PostgreSQL would refuse or misread: UUIDs in the
 * syntax PostgreSQL's uuid type accepts; integers that are whole numbers in
 * the range of an `integer` and not below the engine's minimum (NaN,
 * fractions, Infinity and negative quantities are refused); JSON and text
 * without NUL characters (`\u0000`), which jsonb and text cannot store.
 */

/**
 * A value passed to a pgflow-orm function that cannot be sent to the database.
 *
 * @example
 * ```ts
 * import { PgflowArgumentError, pgflowSql } from 'pgflow-orm';
 *
 * await pgflowSql(pool).claimTasks('thumbnails', 'worker-1', 10).catch((error: unknown) => {
 *   if (error instanceof PgflowArgumentError) console.error(error.argument, error.message); // workerId must be a UUID, got "worker-1"
 * });
 * ```
 */
export class PgflowArgumentError extends TypeError {
  /** The argument, e.g. `workerId`, `qty`, `completions[2].output`. */
  readonly argument: string;
  /** The offending value as given. */
  readonly value: unknown;
  /** For JSON values: where in the value the problem is, e.g. `$.items[2].name`. */
  readonly path: string | undefined;

  constructor(message: string, argument: string, value: unknown, path?: string) {
    super(message);
    this.name = 'PgflowArgumentError';
    this.argument = argument;
    this.value = value;
    this.path = path;
  }
}

/** A value as it appears in an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : `Date ${value.toISOString()}`;
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * The UUID syntax of PostgreSQL's uuid type: 32 hex digits, case-insensitive,
 * with an optional hyphen after any group of four, optionally in braces.
 */
const UUID = /^(?:[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}|\{[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}\})$/i;

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

/** Throws unless `value` is a UUID; returns it. */
export function checkUuid(where: string, argument: string, value: unknown): string {
  if (!isUuid(value)) {
    throw new PgflowArgumentError(`${where}: ${argument} must be a UUID, got ${describeValue(value)}`, argument, value);
  }
  return value;
}

/** `checkUuid` for an optional argument: undefined and null pass (as SQL NULL). */
export function checkOptionalUuid(where: string, argument: string, value: unknown): string | null {
  return value === undefined || value === null ? null : checkUuid(where, argument, value);
}

const INT_MAX = 2_147_483_647;
const INT_MIN = -2_147_483_648;

/** Throws unless `value` is a whole number from `minimum` up to the largest `integer`; returns it. */
export function checkInteger(where: string, argument: string, value: unknown, minimum = INT_MIN): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < minimum || value > INT_MAX) {
    const range = minimum === INT_MIN ? 'a whole number' : `a whole number of at least ${minimum}`;
    const tooLarge = typeof value === 'number' && Number.isInteger(value) && value > INT_MAX ? ` (at most ${INT_MAX})` : '';
    throw new PgflowArgumentError(`${where}: ${argument} must be ${range}${tooLarge}, got ${describeValue(value)}`, argument, value);
  }
  return value;
}

/** `checkInteger` for an optional argument: undefined and null pass (as SQL NULL). */
export function checkOptionalInteger(where: string, argument: string, value: unknown, minimum?: number): number | null {
  return value === undefined || value === null ? null : checkInteger(where, argument, value, minimum);
}

/** Throws unless `value` is a finite number of at least `minimum`; returns it. */
export function checkNumber(where: string, argument: string, value: unknown, minimum: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < minimum) {
    throw new PgflowArgumentError(`${where}: ${argument} must be a finite number of at least ${minimum}, got ${describeValue(value)}`, argument, value);
  }
  return value;
}

/**
 * A message id (bigint) as text: a whole number of at least 1, given as a
 * number (a safe integer), a bigint, or a string of digits as drivers return
 * int8 columns.
 */
export function checkMessageId(where: string, argument: string, value: unknown): string {
  const ok =
    (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) ||
    (typeof value === 'bigint' && value >= 1n && value <= 9_223_372_036_854_775_807n) ||
    (typeof value === 'string' && /^[1-9]\d{0,18}$/.test(value) && BigInt(value) <= 9_223_372_036_854_775_807n);
  if (!ok) throw new PgflowArgumentError(`${where}: ${argument} must be a message id (a whole number of at least 1), got ${describeValue(value)}`, argument, value);
  return String(value);
}

/** Throws when `value` is not an array; returns it. */
export function checkArray<T>(where: string, argument: string, value: readonly T[] | unknown): readonly T[] {
  if (!Array.isArray(value)) throw new PgflowArgumentError(`${where}: ${argument} must be an array, got ${describeValue(value)}`, argument, value);
  return value as readonly T[];
}

const NUL_REASON = 'contains a NUL character (\\u0000), which PostgreSQL cannot store';

/** Throws when the text contains a NUL character, saying where; returns it. */
export function checkText(where: string, argument: string, value: string): string {
  const at = typeof value === 'string' ? value.indexOf('\u0000') : -1;
  if (at >= 0) {
    throw new PgflowArgumentError(`${where}: ${argument} ${NUL_REASON} in text (at character ${at})`, argument, value);
  }
  return value;
}

/**
 * The last line of defence for text: throws when a string parameter (or a string in an array
 * parameter) holds a NUL character, naming the statement's function and the parameter's position.
 * The typed methods check the arguments they know by name first; this catches the rest (slugs,
 * names) before the driver fails with `invalid byte sequence for encoding "UTF8": 0x00`.
 */
export function checkTextParameters(where: string, values: readonly unknown[]): void {
  values.forEach((value, index) => {
    const strings = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
    for (const text of strings) {
      const nul = text.indexOf('\u0000');
      if (nul >= 0) {
        throw new PgflowArgumentError(`${where}: parameter $${index + 1} ${NUL_REASON} in text (at character ${nul})`, `$${index + 1}`, value);
      }
    }
  });
}

const propertyPath = (path: string, key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** Where the first NUL character is in a parsed JSON value: the path of the string or key holding it. */
function findNul(value: unknown, path: string): { path: string; inKey: boolean } | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? { path, inKey: false } : undefined;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const found = findNul(value[index], `${path}[${index}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      if (key.includes('\u0000')) return { path: propertyPath(path, key), inKey: true };
      const found = findNul(item, propertyPath(path, key));
      if (found) return found;
    }
  }
  return undefined;
}

/**
 * JSON text for a `::text::jsonb` parameter (`undefined` and `null` become SQL
 * NULL), refused when it holds a NUL character: jsonb cannot store one, and
 * the cast would fail with `unsupported Unicode escape sequence`. `what`
 * names the value in the error, e.g. `the output of step "fetch"`.
 *
 * The check costs one scan of the text already built for the query; the value
 * is only walked, to find the path, when that scan finds `\u0000`.
 */
export function jsonParameter(where: string, argument: string, what: string, value: unknown): string | null {
  if (value === undefined || value === null) return null;
  const text = JSON.stringify(value);
  if (text === undefined) return null;
  if (text.includes('\\u0000')) {
    // The scan may match an escaped backslash followed by "u0000"; only a real NUL counts.
    const found = findNul(JSON.parse(text), '$');
    if (found) {
      throw new PgflowArgumentError(
        `${where}: ${what} ${NUL_REASON} in jsonb: at ${found.path}${found.inKey ? ' (in the key)' : ''}`,
        argument,
        value,
        found.path,
      );
    }
  }
  return text;
}
