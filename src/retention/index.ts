/** Retention: pruning finished runs, and counting what a prune would delete. */
export { countPrunable, pruneRuns, type PruneOptions, type PruneTotals } from './prune.js';
