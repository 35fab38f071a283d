/**
 * The flow shapes the benchmark drives, and the SQL that defines them with
 * pgflow.create_flow / pgflow.add_step.
 */
import type pg from 'pg';
import type { ScenarioName } from './config.js';

export interface StepDefinition {
  slug: string;
  deps: string[];
}

export interface Scenario {
  name: ScenarioName;
  flowSlug: string;
  /** One line for the report, e.g. "1 → 10 → 1". */
  shape: string;
  steps: StepDefinition[];
  /** Steps nothing depends on: their outputs make up the run's output. */
  leaves: string[];
  /** R when --runs is not given: about 10,000 tasks per measurement. */
  defaultRuns: number;
}

function fan(name: ScenarioName, width: number, defaultRuns: number): Scenario {
  const branches = Array.from({ length: width }, (_, i) => `branch_${String(i + 1).padStart(2, '0')}`);
  return {
    name,
    flowSlug: `bench_${name}`,
    shape: `1 → ${width} → 1`,
    steps: [{ slug: 'root', deps: [] }, ...branches.map((slug) => ({ slug, deps: ['root'] })), { slug: 'join', deps: branches }],
    leaves: ['join'],
    defaultRuns,
  };
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  chain: {
    name: 'chain',
    flowSlug: 'bench_chain',
    shape: '3 steps in a line',
    steps: [
      { slug: 'first', deps: [] },
      { slug: 'second', deps: ['first'] },
      { slug: 'third', deps: ['second'] },
    ],
    leaves: ['third'],
    defaultRuns: 3000,
  },
  fanout: fan('fanout', 10, 1000),
  wide: fan('wide', 50, 200),
};

/** R for a scenario: --runs when given, else the scenario's default. */
export function runsFor(scenario: Scenario, runs: number | null): number {
  return runs ?? scenario.defaultRuns;
}

/** Tasks per run: every step here has exactly one task. */
export function tasksPerRun(scenario: Scenario): number {
  return scenario.steps.length;
}

/** Defines the scenario's flow in the database behind `client` (idempotent). */
export async function defineFlow(client: pg.Client, scenario: Scenario): Promise<void> {
  await client.query('select pgflow.create_flow($1::text)', [scenario.flowSlug]);
  for (const step of scenario.steps) {
    await client.query('select pgflow.add_step($1::text, $2::text, $3::text[])', [scenario.flowSlug, step.slug, step.deps]);
  }
}

/** The trivial step handler every worker runs: a small JSON object. */
export function handler(stepSlug: string, taskIndex: number): { step: string; task: number; ok: true } {
  return { step: stepSlug, task: taskIndex, ok: true };
}
