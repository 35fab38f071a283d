/** Finding the flows a module exports (for commands that load a user's module). */
import { Flow, type AnyFlow } from './flow.js';

/**
 * The flows among a module's exports: the default export and named exports
 * that are flows, or arrays / objects of flows one level deep. Each flow
 * appears once; two different flows with the same slug are an error.
 */
export function collectFlows(moduleExports: Record<string, unknown>): AnyFlow[] {
  const found = new Map<string, AnyFlow>();
  const add = (value: unknown, where: string) => {
    if (!Flow.isFlow(value)) return false;
    const existing = found.get(value.slug);
    if (existing && existing !== value) throw new Error(`two different flows with slug "${value.slug}" are exported (${where})`);
    found.set(value.slug, value);
    return true;
  };
  for (const [name, value] of Object.entries(moduleExports)) {
    if (add(value, name)) continue;
    if (Array.isArray(value)) value.forEach((item, index) => add(item, `${name}[${index}]`));
    else if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
      for (const [key, item] of Object.entries(value)) add(item, `${name}.${key}`);
    }
  }
  return [...found.values()];
}
