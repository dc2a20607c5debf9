import { canonicalUuid } from '../../turku/uuid.js';
import { AdminError } from '../admin/commands.js';
import { toBool, toMillis, toStringList } from '../db/database.js';
import type { ColumnKind } from './original-tables.js';

/**
 * One column value, read from either side and brought to the form our schema stores: canonical
 * UUID strings, epoch milliseconds, booleans, string lists. Anything the original's own schema
 * could not have produced is refused, naming the row and column, before anything is written.
 */

export type Value = string | number | boolean | null | readonly string[];
export type ImportedRow = Readonly<Record<string, Value>>;

/** A refusal of the whole import: one line naming what is wrong and where. */
export class ImportError extends AdminError {
  override name = 'ImportError';
}

const NULLABLE = new Set<ColumnKind>(['ref?', 'text?', 'time?']);

/**
 * A value of the original database, as the driver returned it. `at` names the row and column
 * (called only to word a refusal).
 */
export function originalValue(kind: ColumnKind, raw: unknown, at: () => string): Value {
  if (raw === null || raw === undefined) {
    if (NULLABLE.has(kind)) return null;
    throw new ImportError(`${at()}: NULL where the original's schema requires a value`);
  }
  switch (kind) {
    case 'id':
    case 'uuid':
    case 'ref':
    case 'ref?': {
      const canonical = typeof raw === 'string' ? canonicalUuid(raw.trim()) : undefined;
      if (canonical === undefined) throw new ImportError(`${at()}: ${describe(raw)} is not a UUID`);
      return canonical;
    }
    case 'text':
    case 'text?': {
      const text = typeof raw === 'string' ? raw : typeof raw === 'number' ? String(raw) : undefined;
      if (text === undefined) throw new ImportError(`${at()}: expected text, found ${describe(raw)}`);
      // PostgreSQL cannot store NUL, and no Turku field has a use for it.
      if (text.includes('\0')) throw new ImportError(`${at()}: contains a NUL character`);
      return text;
    }
    case 'bool':
      if (raw === true || raw === 1 || raw === 1n) return true;
      if (raw === false || raw === 0 || raw === 0n) return false;
      throw new ImportError(`${at()}: expected a boolean, found ${describe(raw)}`);
    case 'int': {
      const value = typeof raw === 'bigint' ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
        throw new ImportError(`${at()}: expected a non-negative integer, found ${describe(raw)}`);
      }
      return value;
    }
    case 'time':
    case 'time?': {
      const millis =
        raw instanceof Date ? raw.getTime() : typeof raw === 'string' ? parseDjangoDatetime(raw) : undefined;
      if (millis === undefined || !Number.isFinite(millis)) {
        throw new ImportError(`${at()}: ${describe(raw)} is not a date and time`);
      }
      return millis;
    }
    case 'list':
      return parseList(raw, at);
  }
}

function parseList(raw: unknown, at: () => string): readonly string[] {
  if (typeof raw !== 'string') throw new ImportError(`${at()}: expected a JSON list, found ${describe(raw)}`);
  if (raw.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ImportError(`${at()}: ${describe(raw)} is not a JSON list`);
  }
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) {
    throw new ImportError(`${at()}: ${describe(raw)} is not a JSON list of strings`);
  }
  if (parsed.some((item: string) => item.includes('\0'))) throw new ImportError(`${at()}: contains a NUL character`);
  return parsed;
}

const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:\s*(Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?))?$/i;

/**
 * A datetime as Django keeps it: on SQLite, text like `2024-12-15 03:12:07.123456`, in UTC when
 * the project uses time zones (Turku does), so text without an offset is read as UTC; on
 * PostgreSQL, `timestamptz` printed as text with its offset. Fractions below a millisecond are
 * dropped (ours stores milliseconds). Undefined when it is not a valid date and time.
 */
export function parseDjangoDatetime(text: string): number | undefined {
  const match = DATETIME.exec(text.trim());
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1, 7).map((part) => Number(part ?? '0')) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const millis = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second, millis));
  utc.setUTCFullYear(year); // Date.UTC maps years 0-99 to 1900-1999
  const valid =
    utc.getUTCFullYear() === year &&
    utc.getUTCMonth() === month - 1 &&
    utc.getUTCDate() === day &&
    utc.getUTCHours() === hour &&
    utc.getUTCMinutes() === minute &&
    utc.getUTCSeconds() === second;
  if (!valid) return undefined;
  return utc.getTime() - offsetMillis(match[8]);
}

function offsetMillis(offset: string | undefined): number {
  if (offset === undefined || offset.toUpperCase() === 'Z') return 0;
  const digits = offset.slice(1).replaceAll(':', '');
  const seconds =
    Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4) || '0') * 60 + Number(digits.slice(4, 6) || '0');
  return (offset.startsWith('-') ? -1 : 1) * seconds * 1000;
}

/** A value of one of our rows (either driver), in the same form as `originalValue`'s. */
export function ourValue(kind: ColumnKind, raw: unknown): Value {
  if (raw === null || raw === undefined) return null;
  switch (kind) {
    case 'bool':
      return toBool(raw);
    case 'int':
    case 'time':
    case 'time?':
      return toMillis(raw);
    case 'list':
      return toStringList(raw);
    default:
      return typeof raw === 'string' ? raw : JSON.stringify(raw);
  }
}

export function sameValue(a: Value, b: Value): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

/** A short, safe rendering of an offending value for a message. */
function describe(raw: unknown): string {
  const text =
    typeof raw === 'string'
      ? JSON.stringify(raw)
      : raw instanceof Date
        ? raw.toISOString()
        : typeof raw === 'number' || typeof raw === 'bigint' || typeof raw === 'boolean'
          ? String(raw)
          : (JSON.stringify(raw) ?? typeof raw);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
