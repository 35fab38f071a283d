/** The flow DSL: define flows in TypeScript, compile them to SQL, keep the database in step. */
export {
  Flow,
  FlowDefinitionError,
  type AnyFlow,
  type AnyStepHandler,
  type ArraySteps,
  type ElementOf,
  type FlowInput,
  type FlowConfig,
  type FlowOutput,
  type FlowSteps,
  type LeafSteps,
  type RuntimeOptions,
  type SkippableSteps,
  type StepDefinition,
  type StepHandler,
  type StepKind,
  type StepInput,
  type StepConfig,
  type StepOutput,
  type StepRuntimeOptions,
} from './flow.js';
export type { StepContext } from './context.js';
export { CONDITION_OPTION_KEYS, SKIP_MODES, type ConditionOptions, type InputPattern, type SkipMode, type StepCondition } from './condition.js';
export { childLogger, consoleLogger, silentLogger, type Logger, type LogFields, type LogLevel } from './logger.js';
export { assertJsonSerialisable, JsonValueError, type JsonSafe, type CheckJsonOutput, type JsonSafeOutput, type NotJsonSerialisable, type StoredOutput } from './json.js';
export { isValidSlug, slugProblem, MAX_FLOW_SLUG_LENGTH, MAX_STEP_SLUG_LENGTH, type CheckStepSlug, type IsValidSlug } from './slug.js';
export { compileFlow, compileFlowBlock, compileFlowScript, flowCalls, jsonbLiteral, sqlLiteral, stepCall } from './compile.js';
export {
  canonicalJson,
  DEFAULT_FLOW_OPTIONS,
  DEFAULT_STEP_CONDITION,
  diffFlow,
  ensureFlow,
  FlowDriftError,
  readFlowDefinition,
  type EnsureFlowOptions,
  type EnsureFlowResult,
  type FlowDifference,
  type StoredFlowDefinition,
  type StoredStepCondition,
  type StoredStepDefinition,
} from './ensure.js';
export { collectFlows } from './collect.js';
