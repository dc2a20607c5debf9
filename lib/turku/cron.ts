import { Temporal } from 'temporal-polyfill';

import { localDate } from './time.js';

/**
 * Five-field cron expressions as the original's croniter reads them, with Jenkins-style hashed
 * (`H`) and random (`R`) fields. An expression is parsed once into a template; hashed fields are
 * resolved per source id (from the CRC-32 of the id), so every source gets its own stable slot.
 */

export class CronSyntaxError extends Error {
  override name = 'CronSyntaxError';
}

interface FieldSpec {
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  /** The largest value accepted in the text (7 for day-of-week, meaning Sunday). */
  readonly inputHi: number;
  readonly names?: Readonly<Record<string, number>>;
}

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', lo: 0, hi: 59, inputHi: 59 },
  { name: 'hour', lo: 0, hi: 23, inputHi: 23 },
  { name: 'day-of-month', lo: 1, hi: 31, inputHi: 31 },
  {
    name: 'month',
    lo: 1,
    hi: 12,
    inputHi: 12,
    names: Object.fromEntries(MONTH_NAMES.map((n, i) => [n, i + 1])),
  },
  {
    name: 'day-of-week',
    lo: 0,
    hi: 6,
    inputHi: 7,
    names: Object.fromEntries(DAY_NAMES.map((n, i) => [n, i])),
  },
];

const DAY_OF_MONTH = 2;
const DAY_OF_WEEK = 4;

/** The original's hashed aliases (docs/domain.md, "Schedules"). */
const ALIASES: Readonly<Record<string, string>> = {
  '@midnight': 'H H(0-2) * * *',
  '@hourly': 'H * * * *',
  '@daily': 'H H * * *',
  '@weekly': 'H H * * H',
  '@monthly': 'H H H * *',
  '@yearly': 'H H H H *',
  '@annually': 'H H H H *',
};

/** One comma-separated element of a field, before hashed values are known. */
type Term =
  | {
      readonly kind: 'range';
      readonly from: number;
      readonly to: number;
      readonly step: number;
    }
  | {
      readonly kind: 'hashed';
      readonly random: boolean;
      readonly from: number;
      readonly to: number;
      /** `H/n`: a hashed start in [from, from+n-1], then every n up to `to`. */
      readonly step: number | undefined;
    };

export interface CronTemplate {
  /** The five fields after alias expansion, space-separated. */
  readonly expression: string;
  readonly terms: readonly (readonly Term[])[];
  /** croniter's rule: when both day fields are restricted (not `*`), a day matching either runs. */
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
  /** Whether any field depends on the source id or on chance. */
  readonly hashed: boolean;
}

export interface ResolvedCron {
  readonly minutes: readonly number[];
  readonly hours: readonly number[];
  readonly daysOfMonth: readonly boolean[];
  readonly months: readonly boolean[];
  /** Indexed 0 (Sunday) … 6 (Saturday). */
  readonly daysOfWeek: readonly boolean[];
  readonly dayOfMonthRestricted: boolean;
  readonly dayOfWeekRestricted: boolean;
}

/** Parses a cron expression or alias; throws CronSyntaxError with a reason. */
export function parseCron(text: string): CronTemplate {
  const trimmed = text.trim();
  if (trimmed === '') throw new CronSyntaxError('empty expression');
  const expression = trimmed.startsWith('@') ? expandAlias(trimmed) : trimmed;
  const fields = expression.split(/[ \t]+/);
  if (fields.length !== 5) {
    throw new CronSyntaxError(`expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  }
  const terms = fields.map((field, index) => parseField(field, FIELDS[index]!));
  const template: CronTemplate = {
    expression: fields.join(' '),
    terms,
    dayOfMonthRestricted: fields[DAY_OF_MONTH] !== '*',
    dayOfWeekRestricted: fields[DAY_OF_WEEK] !== '*',
    hashed: terms.some((field) => field.some((term) => term.kind === 'hashed')),
  };
  assertDaysCanMatch(template);
  return template;
}

function expandAlias(alias: string): string {
  const expansion = ALIASES[alias.toLowerCase()];
  if (expansion === undefined) throw new CronSyntaxError(`unknown alias "${alias}"`);
  return expansion;
}

function parseField(text: string, spec: FieldSpec): Term[] {
  return text.split(',').map((element) => {
    if (element === '') throw new CronSyntaxError(`empty list element in ${spec.name} field "${text}"`);
    return parseTerm(element, spec);
  });
}

const HASHED_TERM = /^([HR])(?:\((\d+)-(\d+)\))?(?:\/(\d+))?$/i;
const PLAIN_TERM = /^(\*|[a-z0-9]+)(?:-([a-z0-9]+))?(?:\/(\d+))?$/i;

function parseTerm(element: string, spec: FieldSpec): Term {
  const hashed = HASHED_TERM.exec(element);
  if (hashed) {
    const [, letter, fromText, toText, stepText] = hashed;
    let from = spec.lo;
    let to = spec.hi;
    if (fromText !== undefined && toText !== undefined) {
      from = parseValue(fromText, spec, element);
      to = parseValue(toText, spec, element);
      if (from >= to) throw new CronSyntaxError(`${spec.name} "${element}": hashed range start must be below its end`);
      if (to > spec.hi)
        throw new CronSyntaxError(`${spec.name} "${element}": ${to} is out of range ${spec.lo}-${spec.hi}`);
    }
    const step = stepText === undefined ? undefined : parseStep(stepText, spec, element);
    if (step !== undefined && step > to - from + 1) {
      throw new CronSyntaxError(`${spec.name} "${element}": step ${step} is larger than the range`);
    }
    return {
      kind: 'hashed',
      random: letter!.toUpperCase() === 'R',
      from,
      to,
      step,
    };
  }
  const plain = PLAIN_TERM.exec(element);
  if (!plain) throw new CronSyntaxError(`${spec.name} field: cannot parse "${element}"`);
  const [, startText, endText, stepText] = plain;
  const step = stepText === undefined ? 1 : parseStep(stepText, spec, element);
  if (startText === '*') {
    if (endText !== undefined) throw new CronSyntaxError(`${spec.name} field: cannot parse "${element}"`);
    return { kind: 'range', from: spec.lo, to: spec.hi, step };
  }
  const from = parseValue(startText!, spec, element);
  // "a/n" runs from a to the end of the field, as croniter reads it.
  const to = endText !== undefined ? parseValue(endText, spec, element) : stepText !== undefined ? spec.hi : from;
  if (from > to) throw new CronSyntaxError(`${spec.name} "${element}": range start is after its end`);
  return { kind: 'range', from, to, step };
}

function parseValue(text: string, spec: FieldSpec, element: string): number {
  const named = spec.names?.[text.toLowerCase()];
  if (named !== undefined) return named;
  if (!/^\d+$/.test(text)) throw new CronSyntaxError(`${spec.name} "${element}": "${text}" is not a number or name`);
  const value = Number(text);
  if (value < spec.lo || value > spec.inputHi) {
    throw new CronSyntaxError(`${spec.name} "${element}": ${value} is out of range ${spec.lo}-${spec.inputHi}`);
  }
  return value;
}

function parseStep(text: string, spec: FieldSpec, element: string): number {
  const step = Number(text);
  if (step < 1) throw new CronSyntaxError(`${spec.name} "${element}": step must be at least 1`);
  return step;
}

/** Rejects expressions whose day fields can never match, such as "0 0 30 2 *". */
function assertDaysCanMatch(template: CronTemplate): void {
  const dayTerms = [template.terms[DAY_OF_MONTH]!, template.terms[3]!, template.terms[DAY_OF_WEEK]!];
  // Hashed day fields depend on the source id; nextCronMatch reports those per source.
  if (dayTerms.some((field) => field.some((term) => term.kind === 'hashed'))) return;
  const resolved = resolveCron(template, 0, Math.random);
  const probe = Temporal.Instant.from('2000-01-01T00:00:00Z');
  if (nextCronMatch(resolved, probe, 'UTC') === undefined) {
    throw new CronSyntaxError('the day-of-month and month fields never match a real date');
  }
}

/** Fixes hashed fields from the source's CRC-32 (`H`) or from `random` (`R`). */
export function resolveCron(template: CronTemplate, crc: number, random: () => number): ResolvedCron {
  const sets = template.terms.map((terms, index) => {
    const spec = FIELDS[index]!;
    const present = new Array<boolean>(spec.inputHi + 1).fill(false);
    for (const term of terms) {
      for (const value of expandTerm(term, index, crc, random)) present[value] = true;
    }
    if (index === DAY_OF_WEEK && present[7]) present[0] = true;
    return present;
  });
  const listed = (present: boolean[]): number[] => present.flatMap((on, value) => (on ? [value] : []));
  return {
    minutes: listed(sets[0]!),
    hours: listed(sets[1]!),
    daysOfMonth: sets[DAY_OF_MONTH]!,
    months: sets[3]!,
    daysOfWeek: sets[DAY_OF_WEEK]!.slice(0, 7),
    dayOfMonthRestricted: template.dayOfMonthRestricted,
    dayOfWeekRestricted: template.dayOfWeekRestricted,
  };
}

function expandTerm(term: Term, fieldIndex: number, crc: number, random: () => number): number[] {
  if (term.kind === 'range') return stepped(term.from, term.to, term.step);
  const width = term.step ?? term.to - term.from + 1;
  const seed = term.random ? Math.floor(random() * 2 ** 32) : crc >>> fieldIndex;
  const start = (seed % width) + term.from;
  return term.step === undefined ? [start] : stepped(start, term.to, term.step);
}

function stepped(from: number, to: number, step: number): number[] {
  const values: number[] = [];
  for (let value = from; value <= to; value += step) values.push(value);
  return values;
}

/** A leap-day or weekday combination repeats within 28 years, plus the 2100-style gap. */
const HORIZON_DAYS = 366 * 29;

/**
 * The first minute-aligned instant strictly after `after` that the resolved expression matches,
 * in the given zone; undefined if none within the horizon (e.g. "30 February").
 */
export function nextCronMatch(
  cron: ResolvedCron,
  after: Temporal.Instant,
  timeZone: string,
): Temporal.Instant | undefined {
  const first = localDate(after, timeZone);
  const last = first.add({ days: HORIZON_DAYS });
  let date = first;
  while (Temporal.PlainDate.compare(date, last) <= 0) {
    if (!cron.months[date.month]) {
      date = date.with({ day: 1 }).add({ months: 1 });
      continue;
    }
    if (dayMatches(cron, date)) {
      const found = firstTimeOnDayAfter(cron, date, after, timeZone);
      if (found) return found;
    }
    date = date.add({ days: 1 });
  }
  return undefined;
}

function dayMatches(cron: ResolvedCron, date: Temporal.PlainDate): boolean {
  const byMonthDay = cron.daysOfMonth[date.day] === true;
  const byWeekDay = cron.daysOfWeek[date.dayOfWeek % 7] === true;
  return cron.dayOfMonthRestricted && cron.dayOfWeekRestricted ? byMonthDay || byWeekDay : byMonthDay && byWeekDay;
}

function firstTimeOnDayAfter(
  cron: ResolvedCron,
  date: Temporal.PlainDate,
  after: Temporal.Instant,
  timeZone: string,
): Temporal.Instant | undefined {
  const dayStart = date.toZonedDateTime({ timeZone });
  const nextDayStart = date.add({ days: 1 }).toZonedDateTime({ timeZone });
  const regular =
    dayStart.hour === 0 && dayStart.minute === 0 && dayStart.offsetNanoseconds === nextDayStart.offsetNanoseconds;
  if (regular) {
    // No UTC offset change in the day: wall-clock order is instant order, and the first
    // match after `after` is the earliest.
    for (const hour of cron.hours) {
      for (const minute of cron.minutes) {
        const epochMs = dayStart.epochMilliseconds + (hour * 60 + minute) * 60_000;
        if (epochMs > after.epochMilliseconds) return Temporal.Instant.fromEpochMilliseconds(epochMs);
      }
    }
    return undefined;
  }
  // Across a DST change a skipped time moves forward, so every candidate is compared.
  let best: Temporal.Instant | undefined;
  for (const hour of cron.hours) {
    for (const minute of cron.minutes) {
      const candidate = date
        .toZonedDateTime({
          timeZone,
          plainTime: new Temporal.PlainTime(hour, minute),
        })
        .toInstant();
      if (Temporal.Instant.compare(candidate, after) <= 0) continue;
      if (best === undefined || Temporal.Instant.compare(candidate, best) < 0) best = candidate;
    }
  }
  return best;
}
