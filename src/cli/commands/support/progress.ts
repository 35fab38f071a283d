/**
 * Progress of a long command on stderr: a cli-progress bar on a terminal,
 * plain lines otherwise (CI logs, pipes), so stdout keeps only the result.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  /** `value` of `total` done; `text` describes it for plain lines and the bar's label. */
  update(value: number, text: string): void;
  /** Releases the terminal. */
  stop(): void;
}

export function createProgress(options: { total: number; unit: string; stream?: NodeJS.WriteStream; bar?: boolean }): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.bar ?? stream.isTTY === true) {
    const bar = new cliProgress.SingleBar(
      { format: `{bar} {value}/{total} ${options.unit} | {text} | {duration_formatted}`, barsize: 30, hideCursor: true, stream, fps: 10 },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(options.total, 1), 0, { text: '' });
    return {
      update: (value, text) => {
        if (value > bar.getTotal()) bar.setTotal(value);
        bar.update(value, { text });
      },
      stop: () => bar.stop(),
    };
  }
  return {
    update: (_value, text) => stream.write(`${text}\n`),
    stop: () => {},
  };
}
