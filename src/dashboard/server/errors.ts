/**
 * Errors the handler answers with a status code and a message meant for
 * the person looking: a bad run id, an unknown flow, a malformed filter, a
 * refused action.
 */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const forbidden = (message: string) => new HttpError(403, message);
export const notFound = (message: string) => new HttpError(404, message);
