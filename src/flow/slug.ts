/**
 * Slug rules of the DSL. A slug starts with a letter and continues with
 * letters, digits and underscores; `run` is reserved (it names the run input
 * in every step's input). Step slugs have at most 128 characters; flow slugs
 * at most 47, because a flow's slug names its queue. The engine also accepts
 * a leading underscore; the DSL does not, like @pgflow/dsl.
 */

export const MAX_STEP_SLUG_LENGTH = 128;
export const MAX_FLOW_SLUG_LENGTH = 47;

const SLUG_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;

/**
 * Why `slug` is not a valid slug, or undefined when it is.
 */
export function slugProblem(slug: unknown, kind: 'flow' | 'step'): string | undefined {
  if (typeof slug !== 'string') return `must be a string (got ${slug === null ? 'null' : typeof slug})`;
  if (slug === '') return 'must not be empty';
  if (slug === 'run') return 'is reserved: "run" names the run input in every step input';
  if (!SLUG_PATTERN.test(slug)) return 'must start with a letter and contain only letters, digits and underscores';
  const max = kind === 'flow' ? MAX_FLOW_SLUG_LENGTH : MAX_STEP_SLUG_LENGTH;
  if (slug.length > max) {
    return kind === 'flow'
      ? `is ${slug.length} characters long; flow slugs have at most ${max} characters because they name the flow's queue`
      : `is ${slug.length} characters long; step slugs have at most ${max} characters`;
  }
  return undefined;
}

/**
 * Whether `slug` may name a flow (at most 47 characters) or a step (at most 128): a letter, then letters, digits and underscores, and not `run`.
 *
 * @example
 * ```ts
 * import { isValidSlug } from 'pgflow-orm';
 *
 * console.log(isValidSlug('image_processing', 'flow'), isValidSlug('run')); // true false
 * ```
 */
export function isValidSlug(slug: unknown, kind: 'flow' | 'step' = 'step'): slug is string {
  return slugProblem(slug, kind) === undefined;
}

// ---- The same rules for string literal types (length is checked at run time only). ----

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';
type AsciiLetter =
  | 'a' | 'b' | 'c' | 'd' | 'e' | 'f' | 'g' | 'h' | 'i' | 'j' | 'k' | 'l' | 'm'
  | 'n' | 'o' | 'p' | 'q' | 'r' | 's' | 't' | 'u' | 'v' | 'w' | 'x' | 'y' | 'z';
type Letter = AsciiLetter | Uppercase<AsciiLetter>;

type SlugTail<S extends string> = S extends '' ? true : S extends `${infer C}${infer Rest}` ? (C extends Letter | Digit | '_' ? SlugTail<Rest> : false) : false;

/** `true` when the literal `S` follows the slug rules (apart from the length limit). */
export type IsValidSlug<S extends string> = S extends 'run' ? false : S extends `${infer C}${infer Rest}` ? (C extends Letter ? SlugTail<Rest> : false) : false;

/**
 * The type a step's `slug` option must have: `S` itself when it is a new,
 * valid slug; otherwise a message type, so the compiler reports
 * `Type '"a-b"' is not assignable to type '"\"a-b\" is not a valid slug: ..."'`.
 * Non-literal strings are checked at run time.
 */
export type CheckStepSlug<S extends string, Existing> = string extends S
  ? S
  : S extends keyof Existing
    ? `step slug "${S}" is already used in this flow`
    : S extends 'run'
      ? `"run" is reserved for the run input and cannot be a step slug`
      : IsValidSlug<S> extends true
        ? S
        : `"${S}" is not a valid slug: start with a letter, then letters, digits or underscores`;
