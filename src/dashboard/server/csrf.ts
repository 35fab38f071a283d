/**
 * CSRF protection for the dashboard's POST requests (actions): a signed
 * double-submit token. The page carries a token (`nonce.signature`, signed
 * with a secret only this handler knows) in its config and in a
 * SameSite=Strict, HttpOnly cookie; a POST must send the same token in the
 * `x-pgflow-csrf` header. Another site can neither read the token nor set
 * that header on a cross-site request, and cannot forge a signature.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const CSRF_HEADER = 'x-pgflow-csrf';
export const CSRF_COOKIE = 'pgflow_dashboard_csrf';

export class CsrfTokens {
  private readonly secret: Buffer;

  constructor(secret?: string | Buffer) {
    this.secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.secret).update(nonce).digest('base64url');
  }

  issue(): string {
    const nonce = randomBytes(18).toString('base64url');
    return `${nonce}.${this.sign(nonce)}`;
  }

  /** Whether the token was issued by this handler. */
  isValid(token: string | undefined): token is string {
    if (typeof token !== 'string') return false;
    const [nonce, signature, extra] = token.split('.');
    if (!nonce || !signature || extra !== undefined) return false;
    const expected = Buffer.from(this.sign(nonce));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }

  /** The token in the request's cookie, when it is valid. */
  fromCookie(req: IncomingMessage): string | undefined {
    const header = req.headers.cookie ?? '';
    for (const part of header.split(';')) {
      const [name, ...value] = part.trim().split('=');
      if (name === CSRF_COOKIE) {
        const token = decodeURIComponent(value.join('='));
        return this.isValid(token) ? token : undefined;
      }
    }
    return undefined;
  }

  /** Whether a POST carries a valid token in its header that equals its cookie's. */
  accepts(req: IncomingMessage): boolean {
    const header = req.headers[CSRF_HEADER];
    const token = Array.isArray(header) ? header[0] : header;
    const cookie = this.fromCookie(req);
    return this.isValid(token) && cookie !== undefined && cookie === token;
  }

  /** The Set-Cookie header value for `token`, scoped to the dashboard's path. */
  cookie(token: string, path: string): string {
    return `${CSRF_COOKIE}=${encodeURIComponent(token)}; Path=${path || '/'}; HttpOnly; SameSite=Strict`;
  }
}
