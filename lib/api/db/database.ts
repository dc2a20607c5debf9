/**
 * The narrow SQL interface the API's store is written against. Both backends take the same SQL
 * text with `$1`-style placeholders; timestamps are epoch milliseconds (BIGINT), lists are JSON
 * text and booleans are bound as JS booleans, so one schema and one set of queries serve both.
 */

export type SqlValue = string | number | boolean | null;
export type Row = Record<string, unknown>;
export type Dialect = 'sqlite' | 'postgres';

export interface Queryable {
  all<T extends Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T extends Row>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** Reads a consistent state of the database a batch of rows at a time (Database.readSnapshot). */
export interface SnapshotReader {
  /** The rows of one SELECT, in batches of about `size`; other requests are served between batches. */
  batches<T extends Row>(sql: string, params?: readonly SqlValue[], size?: number): AsyncIterable<T[]>;
}

/** Rows per batch of a snapshot read: about a megabyte of rows, a few milliseconds of work. */
export const SNAPSHOT_BATCH_ROWS = 5_000;

export interface Database {
  readonly dialect: Dialect;
  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws.
   * Every read and write of the store goes through here, so a request sees one consistent state
   * and a failed request changes nothing.
   */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * A value that changes whenever rows may have been added to or removed from any table, by this
   * process or another; absent where the backend cannot tell cheaply (PostgreSQL, shared by units).
   */
  countStamp?(): string;
  /**
   * Runs read-only `work` against one consistent state of the database without holding up other
   * requests while it reads: for scans of whole tables (the per-source /metrics series), which
   * would otherwise hold SQLite's one connection, or build every row in memory at once, for
   * seconds. On SQLite a read-only connection of its own (WAL readers do not block the writer);
   * on PostgreSQL a REPEATABLE READ, READ ONLY transaction read through cursors.
   */
  readSnapshot<T>(work: (reader: SnapshotReader) => Promise<T>): Promise<T>;
  /**
   * One statement on its own, atomic without a transaction around it: on PostgreSQL one round trip,
   * prepared under `name` on each pooled connection. Absent on SQLite, where a transaction costs
   * no round trips.
   */
  statement?<T extends Row>(name: string, sql: string, params: readonly SqlValue[]): Promise<T[]>;
  close(): Promise<void>;
}

/** SQLite and PostgreSQL both return 0/1 or booleans for BOOLEAN columns: read either. */
export function toBool(value: unknown): boolean {
  return value === true || value === 1 || value === 1n || value === '1' || value === 't';
}

/** BIGINT columns: numbers from both drivers (see the pg type parser), null stays null. */
export function toMillis(value: unknown): number | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'number' ? value : Number(value);
}

export function toDate(value: unknown): Date | null {
  const millis = toMillis(value);
  return millis === null ? null : new Date(millis);
}

export function toStringList(value: unknown): string[] {
  if (typeof value !== 'string' || value === '') return [];
  const parsed: unknown = JSON.parse(value);
  return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
}

export function toNullableString(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}
