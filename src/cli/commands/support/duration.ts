/**
 * Durations on the command line: a whole number and a unit — `90s`, `90m`,
 * `12h`, `30d`, `2w` — turned into a PostgreSQL interval (`30 days`).
 */
import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, { interval: string; ms: number }> = {
  s: { interval: 'seconds', ms: 1_000 },
  m: { interval: 'minutes', ms: 60_000 },
  h: { interval: 'hours', ms: 3_600_000 },
  d: { interval: 'days', ms: 86_400_000 },
  w: { interval: 'weeks', ms: 604_800_000 },
};

export interface Duration {
  /** As written, e.g. `30d`. */
  text: string;
  /** A PostgreSQL interval, e.g. `30 days`. */
  interval: string;
  ms: number;
}

/** Parses `30d`, `12h`, `90m`, `45s`, `2w`; throws a commander InvalidArgumentError that says what is expected. */
export function parseDuration(value: string): Duration {
  const match = /^(\d{1,7})([smhdw])$/.exec(value.trim());
  if (!match) {
    throw new InvalidArgumentError(`expected a whole number and a unit: s, m, h, d or w (e.g. 30d, 12h, 90m), got ${JSON.stringify(value)}`);
  }
  const unit = UNITS[match[2]!]!;
  const amount = Number(match[1]);
  return { text: `${amount}${match[2]}`, interval: `${amount} ${unit.interval}`, ms: amount * unit.ms };
}
