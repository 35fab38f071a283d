/**
 * Step outputs and run inputs travel as JSON (jsonb columns), so they must
 * survive `JSON.stringify` → `JSON.parse` unchanged. This module holds the
 * type-level check applied to handler return types and the runtime check the
 * worker applies to every output.
 *
 * Accepted: `null`, booleans, strings, finite numbers, arrays of accepted
 * values, and plain objects (prototype `Object.prototype` or `null`) whose
 * property values are accepted or `undefined` (JSON omits such properties,
 * which matches optional properties). A handler that returns nothing
 * (`undefined`) is stored as `null`.
 *
 * Refused, because the value would change or vanish on the way: functions,
 * symbols, bigints, `NaN`/`Infinity`, `undefined` inside arrays, `Date`
 * (it would arrive as a string: return `date.toISOString()`), `Map`, `Set`,
 * class instances and other non-plain objects, circular references, and
 * strings containing a NUL character (PostgreSQL's jsonb cannot store it).
 */
import type { Json } from '../core/types.js';

type JsonPrimitive = string | number | boolean | null;

/** Marks the part of a type that cannot be stored as JSON; appears in compiler errors. */
export interface NotJsonSerialisable<Reason extends string> {
  readonly 'step outputs and run inputs must be JSON-serialisable': Reason;
}

/**
 * `T` itself when every part of it is JSON-serialisable; otherwise the
 * offending parts are replaced by `NotJsonSerialisable<reason>`, so
 * `T extends JsonSafe<T>` fails and the compiler points at them.
 */
export type JsonSafe<T> = 0 extends 1 & T
  ? T // any
  : T extends JsonPrimitive
    ? T
    : T extends undefined
      ? NotJsonSerialisable<'undefined is not JSON here'>
    : T extends bigint
      ? NotJsonSerialisable<'bigint is not JSON: return it as a string or number'>
      : T extends symbol
        ? NotJsonSerialisable<'symbol is not JSON'>
        : T extends (...args: never[]) => unknown
          ? NotJsonSerialisable<'functions are not JSON'>
          : T extends Date
            ? NotJsonSerialisable<'Date would arrive as a string: return date.toISOString()'>
            : T extends ReadonlyMap<unknown, unknown> | ReadonlySet<unknown> | WeakMap<object, unknown> | WeakSet<object>
              ? NotJsonSerialisable<'Map and Set are not JSON: return an object or an array'>
              : T extends PromiseLike<unknown>
                ? NotJsonSerialisable<'a promise inside an output is not JSON: await it first'>
                : T extends readonly unknown[]
                  ? { [K in keyof T]: JsonSafeElement<T[K]> }
                  : T extends object
                    ? { [K in keyof T]: JsonSafeProperty<T[K]> }
                    : NotJsonSerialisable<'unknown is not known to be JSON: declare the output type (see the Json type)'>;

/** Array elements must not be `undefined` (JSON would turn them into null). */
type JsonSafeElement<T> = T extends undefined ? NotJsonSerialisable<'undefined inside an array would become null'> : JsonSafe<T>;

/** Object properties may be `undefined` (omitted from the JSON, like optional properties). */
type JsonSafeProperty<T> = T extends undefined ? T : JsonSafe<T>;

/** What a handler may return: JSON, or nothing (stored as JSON null). */
export type JsonSafeOutput<T> = T extends void | undefined ? T : JsonSafe<T>;

/**
 * `unknown` when a handler returning `Out` is fine; otherwise an object type
 * naming the offending parts, which the handler is not assignable to.
 */
export type CheckJsonOutput<Out> = [Out] extends [Json | void | undefined]
  ? unknown
  : [Out] extends [JsonSafeOutput<Out>]
    ? unknown
    : { readonly 'the step output is not JSON-serialisable': JsonSafeOutput<Out> };

/** The value dependents and the run output see for a handler's return type `T`. */
export type StoredOutput<T> = T extends void | undefined ? null : T;

/**
 * The JSON check failed; `path` names the offending value (e.g. `$.items[2].when`).
 */
export class JsonValueError extends TypeError {
  readonly path: string;

  constructor(what: string, path: string, reason: string) {
    super(`${what} is not JSON-serialisable: ${path} ${reason}`);
    this.name = 'JsonValueError';
    this.path = path;
  }
}

const isPlainObject = (value: object): boolean => {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
};

const describeObject = (value: object): string => {
  const name = (value.constructor as { name?: string } | undefined)?.name;
  return name ? `a ${name} instance` : 'a non-plain object';
};

const propertyPath = (path: string, key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`);

/** Why `value` is not JSON-serialisable, or undefined when it is. */
function findProblem(value: unknown, path: string, ancestors: Set<object>, inArray: boolean): { path: string; reason: string } | undefined {
  switch (typeof value) {
    case 'string':
      return value.includes('\u0000') ? { path, reason: 'contains a NUL character (\\u0000), which PostgreSQL cannot store in jsonb' } : undefined;
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, reason: `is ${String(value)}, which JSON stores as null` };
    case 'bigint':
      return { path, reason: 'is a bigint; return it as a string or a number' };
    case 'symbol':
      return { path, reason: 'is a symbol' };
    case 'function':
      return { path, reason: 'is a function' };
    case 'undefined':
      return inArray ? { path, reason: 'is undefined inside an array, which JSON stores as null' } : undefined;
    default:
      break;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (ancestors.has(object)) return { path, reason: 'is a circular reference' };
  if (Array.isArray(object)) {
    ancestors.add(object);
    for (let index = 0; index < object.length; index++) {
      const problem = findProblem(object[index], `${path}[${index}]`, ancestors, true);
      if (problem) return problem;
    }
    ancestors.delete(object);
    return undefined;
  }
  if (object instanceof Date) return { path, reason: 'is a Date, which would arrive as a string; return date.toISOString()' };
  if (object instanceof Map || object instanceof Set) return { path, reason: `is a ${object instanceof Map ? 'Map' : 'Set'}; return an object or an array` };
  if (!isPlainObject(object)) return { path, reason: `is ${describeObject(object)}; return plain objects and arrays` };
  ancestors.add(object);
  for (const key of Object.keys(object)) {
    if (key.includes('\u0000')) return { path: propertyPath(path, key), reason: 'has a NUL character (\\u0000) in its key, which PostgreSQL cannot store in jsonb' };
    const problem = findProblem((object as Record<string, unknown>)[key], propertyPath(path, key), ancestors, false);
    if (problem) return problem;
  }
  ancestors.delete(object);
  return undefined;
}

/**
 * Throws a `JsonValueError` naming the first offending value when `value` is
 * not JSON-serialisable (see the module comment). `what` starts the message,
 * e.g. `output of step "fetch"`.
 */
export function assertJsonSerialisable(value: unknown, what = 'value'): asserts value is Json | undefined {
  if (value === undefined) return;
  const problem = findProblem(value, '$', new Set(), false);
  if (problem) throw new JsonValueError(what, problem.path, problem.reason);
}
