/**
 * A flow's DAG: steps as nodes, dependencies as edges, laid out left to
 * right by dagre. Map steps are drawn as a stack and tagged "map", steps
 * with a condition tagged "if". With step statuses (a selected run), each
 * node is coloured by its status (a legend names the colours), and a skipped
 * step says why. Hovering a node shows its options.
 */
import dagre from '@dagrejs/dagre';
import { useMemo, useState } from 'preact/hooks';
import type { FlowDefinition, StepDefinition } from '../../../api-types';
import { skipReasonText } from '../format';
import { statusClass } from './Status';

export interface StepStatusView {
  status: string;
  remainingTasks: number | null;
  initialTasks: number | null;
  skipReason: string | null;
}

/** The step statuses, in the order a run goes through them, with what each colour means. */
export const STEP_STATUS_LEGEND: [status: string, meaning: string][] = [
  ['created', 'waiting for its dependencies'],
  ['started', 'its tasks are queued or running'],
  ['completed', 'done'],
  ['failed', 'failed for good'],
  ['skipped', 'not run: condition not met, its task failed, or a dependency was skipped'],
  ['cancelled', 'stopped when the run was cancelled'],
];

interface Props {
  flow: FlowDefinition;
  statuses?: Record<string, StepStatusView>;
}

const NODE_HEIGHT = 46;
const CHAR_WIDTH = 7.4;
/** Wide enough for the longest status line, e.g. `skipped · dependency skipped`. */
const STATUS_NODE_WIDTH = 190;

/** Why a step was skipped, short enough for its node (the tooltip has the whole sentence). */
const SKIP_IN_NODE: Record<string, string> = {
  condition_unmet: 'condition not met',
  handler_failed: 'task failed',
  dependency_skipped: 'dependency skipped',
};

interface Layout {
  width: number;
  height: number;
  nodes: { step: StepDefinition; x: number; y: number; width: number; height: number }[];
  edges: { from: string; to: string; path: string }[];
}

/** Lays the graph out; with `coloured` (a run's statuses shown) the nodes leave room for a status line. */
function layout(flow: FlowDefinition, coloured: boolean): Layout {
  const graph = new dagre.graphlib.Graph();
  graph.setGraph({ rankdir: 'LR', nodesep: 22, ranksep: 60, marginx: 14, marginy: 14 });
  graph.setDefaultEdgeLabel(() => ({}));
  for (const step of flow.steps) {
    graph.setNode(step.slug, { width: Math.max(coloured ? STATUS_NODE_WIDTH : 120, Math.round(step.slug.length * CHAR_WIDTH) + 36), height: NODE_HEIGHT });
  }
  for (const step of flow.steps) for (const dependency of step.dependsOn) graph.setEdge(dependency, step.slug);
  dagre.layout(graph);
  const label = graph.graph();
  return {
    width: Math.max(label.width ?? 0, 200),
    height: Math.max(label.height ?? 0, 60),
    nodes: flow.steps.map((step) => {
      const node = graph.node(step.slug);
      return { step, x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width, height: node.height };
    }),
    edges: graph.edges().map((edge) => {
      const points: { x: number; y: number }[] = graph.edge(edge).points ?? [];
      const path = points.map((point, index: number) => `${index === 0 ? 'M' : 'L'}${point.x.toFixed(1)},${point.y.toFixed(1)}`).join(' ');
      return { from: edge.v, to: edge.w, path };
    }),
  };
}

const seconds = (value: number | null) => (value === null ? 'flow default' : `${value} s`);

const hasCondition = (step: StepDefinition) => step.condition !== null && (step.condition.requiredInputPattern != null || step.condition.forbiddenInputPattern != null);

/** The step's options, as the tooltip and the details panel show them. */
export function optionsText(step: StepDefinition, flow: FlowDefinition): string[] {
  const { options } = step;
  return [
    `type: ${step.type}`,
    `depends on: ${step.dependsOn.length > 0 ? step.dependsOn.join(', ') : 'nothing (a root step)'}`,
    `max attempts: ${options.maxAttempts ?? `${flow.options.maxAttempts} (flow)`}`,
    `base delay: ${options.baseDelay === null ? `${flow.options.baseDelay} s (flow)` : seconds(options.baseDelay)}`,
    `timeout: ${options.timeout === null ? `${flow.options.timeout} s (flow)` : seconds(options.timeout)}`,
    `start delay: ${options.startDelay === null ? 'none' : seconds(options.startDelay)}`,
    ...(step.condition?.requiredInputPattern != null ? [`runs if its input contains ${JSON.stringify(step.condition.requiredInputPattern)}`] : []),
    ...(step.condition?.forbiddenInputPattern != null ? [`runs if its input does not contain ${JSON.stringify(step.condition.forbiddenInputPattern)}`] : []),
    ...(hasCondition(step) ? [`when the condition is not met: ${step.condition!.whenUnmet}`] : []),
    ...(step.condition && step.condition.whenExhausted !== 'fail' ? [`when its task fails its last attempt: ${step.condition.whenExhausted}`] : []),
  ];
}

function subtitle(step: StepDefinition, state: StepStatusView | undefined): string {
  const parts: string[] = [];
  if (state) parts.push(state.status === 'skipped' ? `skipped · ${SKIP_IN_NODE[state.skipReason ?? ''] ?? state.skipReason ?? 'no reason'}` : state.status);
  if (step.type === 'map' && state?.initialTasks != null && state.status !== 'skipped') parts.push(`${state.initialTasks - (state.remainingTasks ?? state.initialTasks)}/${state.initialTasks} tasks`);
  return parts.join(' · ');
}

export function FlowGraph({ flow, statuses }: Props) {
  const coloured = statuses !== undefined;
  const graph = useMemo(() => layout(flow, coloured), [flow, coloured]);
  const [hovered, setHovered] = useState<string | undefined>(undefined);
  const hoveredStep = flow.steps.find((step) => step.slug === hovered);
  return (
    <figure class="graph" data-testid="flow-graph">
      <div class="graph-scroll">
        <svg width={graph.width} height={graph.height} viewBox={`0 0 ${graph.width} ${graph.height}`} role="img" aria-label={`The steps of flow ${flow.slug}`}>
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" class="arrowhead" />
            </marker>
          </defs>
          {graph.edges.map((edge) => (
            <path key={`${edge.from}->${edge.to}`} d={edge.path} class="edge" marker-end="url(#arrow)" data-edge={`${edge.from}->${edge.to}`} />
          ))}
          {graph.nodes.map(({ step, x, y, width, height }) => {
            const state = statuses?.[step.slug];
            const isMap = step.type === 'map';
            return (
              <g
                key={step.slug}
                class={`node ${statuses ? statusClass(state?.status ?? 'created') : 'is-definition'}${isMap ? ' is-map' : ''}${hovered === step.slug ? ' is-hovered' : ''}`}
                transform={`translate(${x.toFixed(1)},${y.toFixed(1)})`}
                data-step={step.slug}
                data-status={state?.status ?? ''}
                data-type={step.type}
                onMouseEnter={() => setHovered(step.slug)}
                onMouseLeave={() => setHovered(undefined)}
              >
                <title>{[step.slug, ...(state?.status === 'skipped' ? [`skipped: ${skipReasonText(state.skipReason)}`] : []), ...optionsText(step, flow)].join('\n')}</title>
                {isMap && <rect class="stack" x={6} y={-6} width={width} height={height} rx={7} />}
                {isMap && <rect class="stack" x={3} y={-3} width={width} height={height} rx={7} />}
                <rect class="box" width={width} height={height} rx={7} />
                <text class="slug" x={12} y={state || isMap ? 19 : 28}>
                  {step.slug}
                </text>
                {(state || isMap) && (
                  <text class="sub" x={12} y={36}>
                    {subtitle(step, state) || (isMap ? '' : '')}
                  </text>
                )}
                {(isMap || hasCondition(step)) && (
                  <text class="tag" x={width - 10} y={15} text-anchor="end">
                    {[isMap ? 'map' : '', hasCondition(step) ? 'if' : ''].filter(Boolean).join(' · ')}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      </div>
      {statuses && (
        <ul class="legend" data-testid="graph-legend" aria-label="step statuses">
          {STEP_STATUS_LEGEND.map(([status, meaning]) => (
            <li key={status} class={statusClass(status)} title={meaning}>
              <span class="swatch" /> {status}
            </li>
          ))}
        </ul>
      )}
      <figcaption class="graph-details" data-testid="step-details">
        {hoveredStep ? (
          <>
            <strong>{hoveredStep.slug}</strong>
            <ul>
              {optionsText(hoveredStep, flow).map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </>
        ) : (
          <span class="hint">Hover a step to see its options.</span>
        )}
      </figcaption>
    </figure>
  );
}
