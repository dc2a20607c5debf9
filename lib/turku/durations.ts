/**
 * Spans of time written the way operators write them in settings and charm options
 * (docs/datapath.md, "Settings that are ours"): `7d`, `36h`, `1w 2d`, `90m`, `45s`, `3 days`, or a
 * bare number of seconds (as the other storage settings in seconds are written).
 */

const UNIT_SECONDS: Readonly<Record<string, number>> = {
  s: 1,
  m: 60,
  h: 3_600,
  d: 86_400,
  w: 604_800,
};

const UNIT_NAMES: Readonly<Record<string, string>> = {
  s: 's',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  m: 'm',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  h: 'h',
  hour: 'h',
  hours: 'h',
  d: 'd',
  day: 'd',
  days: 'd',
  w: 'w',
  week: 'w',
  weeks: 'w',
};

const TERM = /(\d+(?:\.\d+)?)\s*([a-z]*)\s*/gy;

/** Seconds, or null when `text` is not such a span (empty, negative, an unknown unit). */
export function parseDuration(text: string | number): number | null {
  if (typeof text === 'number') return Number.isFinite(text) && text >= 0 ? text : null;
  const input = text.trim().toLowerCase();
  if (input === '') return null;
  if (/^\d+(\.\d+)?$/.test(input)) return Number(input);
  let seconds = 0;
  TERM.lastIndex = 0;
  let at = 0;
  for (let match = TERM.exec(input); match !== null; match = TERM.exec(input)) {
    const unit = UNIT_NAMES[match[2]!];
    if (unit === undefined) return null;
    seconds += Number(match[1]) * UNIT_SECONDS[unit]!;
    at = TERM.lastIndex;
  }
  return at === input.length ? seconds : null;
}

/** The shortest of `7d`, `36h`, `1d 1s` that says `seconds` exactly. */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const parts: string[] = [];
  let rest = seconds;
  for (const unit of ['w', 'd', 'h', 'm'] as const) {
    const size = UNIT_SECONDS[unit]!;
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(`${rest}s`);
  return parts.join(' ');
}
