/**
 * The flow shapes the benchmark drives, and the SQL that defines them with
 * pgflow.create_flow / pgflow.add_step.
 */
import type pg from 'pg';
import type { ScenarioName } from './config.js';

export interface StepDefinition {
  slug: string;
  deps: string[];
  /** 'map': one task per element of the run input (a root map). */
  type?: 'single' | 'map';
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
  /**
   * A map scenario starts one run whose root map fans out over R elements (R = --runs, or
   * defaultRuns), so its tasks can be compared with R single-step tasks of the other scenarios.
   */
  mapsOverRuns?: boolean;
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
  map: {
    name: 'map',
    flowSlug: 'bench_map',
    shape: 'a root map over R elements → 1',
    steps: [
      { slug: 'each', deps: [], type: 'map' },
      { slug: 'total', deps: ['each'] },
    ],
    leaves: ['total'],
    defaultRuns: 10_000,
    mapsOverRuns: true,
  },
};

/** Runs started per measurement: --runs when given, else the scenario's default; one for a map scenario. */
export function runsFor(scenario: Scenario, runs: number | null): number {
  return scenario.mapsOverRuns ? 1 : (runs ?? scenario.defaultRuns);
}

/** Elements of each run's root map (0 for scenarios without one). */
export function mapElementsFor(scenario: Scenario, runs: number | null): number {
  return scenario.mapsOverRuns ? (runs ?? scenario.defaultRuns) : 0;
}

/** Tasks of one run with one task per step, as the history fill writes them (a map there has one element). */
export function tasksPerRun(scenario: Scenario): number {
  return scenario.steps.length;
}

/** Tasks of one measured run: one per single step, one per element for a map step. */
export function tasksPerMeasuredRun(scenario: Scenario, runs: number | null): number {
  return scenario.steps.reduce((total, step) => total + (step.type === 'map' ? mapElementsFor(scenario, runs) : 1), 0);
}

/** The input of run number `n` of a measurement. */
export function runInput(scenario: Scenario, n: number, runs: number | null): unknown {
  return scenario.mapsOverRuns ? Array.from({ length: mapElementsFor(scenario, runs) }, (_, i) => i) : { n };
}

/** Defines the scenario's flow in the database behind `client` (idempotent). */
export async function defineFlow(client: pg.Client, scenario: Scenario): Promise<void> {
  await client.query('select pgflow.create_flow($1::text)', [scenario.flowSlug]);
  for (const step of scenario.steps) {
    await client.query('select pgflow.add_step($1::text, $2::text, $3::text[], step_type => $4::text)', [scenario.flowSlug, step.slug, step.deps, step.type ?? 'single']);
  }
}

/** The trivial step handler every worker runs: a small JSON object. */
export function handler(stepSlug: string, taskIndex: number): { step: string; task: number; ok: true } {
  return { step: stepSlug, task: taskIndex, ok: true };
}
