/** The error the DSL raises for an invalid flow or step definition. */

/** Raised when a flow or step definition is invalid. */
export class FlowDefinitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlowDefinitionError';
  }
}
