/**
 * The demo's live progress: a progress bar on a terminal, a plain line every
 * second otherwise (CI logs, pipes), or nothing.
 */
import cliProgress from 'cli-progress';

export interface ProgressState {
  /** Runs started by the demo. */
  total: number;
  completed: number;
  failed: number;
  /** Step tasks the demo's workers completed, and how many the runs have in all. */
  steps: number;
  stepsTotal: number;
  /** Attempts that failed (and were retried, or failed their run). */
  failedAttempts: number;
  elapsedMs: number;
}

export interface ProgressDisplay {
  update(state: ProgressState): void;
  /** Shows the final state and releases the terminal. */
  stop(state: ProgressState): void;
}

export type ProgressMode = 'bar' | 'lines' | 'none';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function describe(state: ProgressState): string {
  const finished = state.completed + state.failed;
  const percent = state.total === 0 ? 100 : Math.floor((finished / state.total) * 100);
  return (
    `${String(percent).padStart(3)}% runs ${finished}/${state.total} (${state.completed} completed, ${state.failed} failed)` +
    ` | steps ${state.steps}/${state.stepsTotal} | failed attempts ${state.failedAttempts} | ${seconds(state.elapsedMs)}`
  );
}

class BarDisplay implements ProgressDisplay {
  private readonly bar: cliProgress.SingleBar;
  private started = false;

  constructor(stream: NodeJS.WriteStream) {
    this.bar = new cliProgress.SingleBar(
      {
        format: 'runs {bar} {value}/{total} | {completed} completed, {failed} failed | steps {steps}/{stepsTotal} | failed attempts {failedAttempts} | {elapsed}',
        barsize: 24,
        hideCursor: true,
        stream,
        fps: 12,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  private payload(state: ProgressState) {
    return { completed: state.completed, failed: state.failed, steps: state.steps, stepsTotal: state.stepsTotal, failedAttempts: state.failedAttempts, elapsed: seconds(state.elapsedMs) };
  }

  update(state: ProgressState): void {
    if (!this.started) {
      this.bar.start(state.total, 0, this.payload(state));
      this.started = true;
    }
    this.bar.update(state.completed + state.failed, this.payload(state));
  }

  stop(state: ProgressState): void {
    this.update(state);
    this.bar.stop();
  }
}

class LineDisplay implements ProgressDisplay {
  private lastLine = 0;
  private lastText = '';

  constructor(private readonly write: (line: string) => void) {}

  update(state: ProgressState): void {
    if (state.elapsedMs - this.lastLine < 1000) return;
    this.lastLine = state.elapsedMs;
    this.print(state);
  }

  private print(state: ProgressState): void {
    const text = describe(state);
    if (text === this.lastText) return;
    this.lastText = text;
    this.write(text);
  }

  stop(state: ProgressState): void {
    this.print(state);
  }
}

const nothing: ProgressDisplay = { update() {}, stop() {} };

/** `bar` needs a terminal; `lines` writes through `write`. */
export function createProgress(mode: ProgressMode, options: { stream: NodeJS.WriteStream; write: (line: string) => void }): ProgressDisplay {
  if (mode === 'bar') return new BarDisplay(options.stream);
  if (mode === 'lines') return new LineDisplay(options.write);
  return nothing;
}
