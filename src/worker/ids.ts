/** Worker ids: one UUID per flow queue the worker serves (pgflow.workers has one row per queue). */
import { createHash, randomUUID } from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (value: string) => UUID.test(value);

/**
 * A stable UUID (version 5 layout) derived from a base id and a flow slug.
 */
export function derivedWorkerId(baseId: string, flowSlug: string): string {
  const bytes = createHash('sha1').update(`${baseId.toLowerCase()}:${flowSlug}`).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Worker ids by flow slug. Without `baseId` each flow gets a random id. With
 * one flow, `baseId` is used as is; with several, each flow gets an id
 * derived from `baseId` and its slug, so restarts keep the same ids.
 */
export function workerIdsFor(flowSlugs: readonly string[], baseId?: string): Map<string, string> {
  if (baseId !== undefined && !isUuid(baseId)) throw new TypeError(`workerId must be a UUID (got ${JSON.stringify(baseId)})`);
  return new Map(
    flowSlugs.map((slug) => [slug, baseId === undefined ? randomUUID() : flowSlugs.length === 1 ? baseId.toLowerCase() : derivedWorkerId(baseId, slug)]),
  );
}
