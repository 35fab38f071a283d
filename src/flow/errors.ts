/** The error the DSL raises for an invalid flow or step definition. */

/**
 * Raised when a flow or step definition is invalid.
 *
 * @example
 * ```ts
 * import { Flow, FlowDefinitionError } from 'pgflow-orm';
 *
 * const slug = ['report', 'v2'].join('-'); // computed at run time, so the compiler cannot check it
 * try {
 *   new Flow({ slug });
 * } catch (error) {
 *   if (error instanceof FlowDefinitionError) console.error(error.message); // the slug is not valid
 * }
 * ```
 */
export class FlowDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowDefinitionError';
  }
}
