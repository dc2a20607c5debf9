import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { argon2id } from 'hash-wasm';

import { randomAlphanumeric } from '../../lib/common/random.js';
import type { Database } from '../../lib/api/db/database.js';
import { openPostgres } from '../../lib/api/db/postgres.js';
import { openSqlite } from '../../lib/api/db/sqlite.js';

/**
 * Databases in the original Turku's schema (Django 3.2's tables, tests/fixtures/original-turku),
 * on SQLite or PostgreSQL, filled with rows written the way Django stores them: on SQLite ids as
 * 32 hex digits, booleans as 0/1, datetimes as UTC text; on PostgreSQL native uuid, boolean and
 * timestamptz. Tests describe rows with canonical UUIDs and Django datetime text
 * (`2024-12-15 03:12:07.123456`, UTC), and this module stores them in each dialect's form.
 */

const FIXTURES = new URL('../fixtures/original-turku/', import.meta.url);

export type OriginalTable =
  | 'turku_api_auth'
  | 'turku_api_storage'
  | 'turku_api_machine'
  | 'turku_api_source'
  | 'turku_api_backuplog'
  | 'turku_api_filterset';

/** A row: strings, numbers, booleans, null, string lists (stored as JSON text). */
export type OriginalRow = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

export type OriginalData = ReadonlyArray<readonly [OriginalTable, OriginalRow]>;

/** Columns holding UUIDs, which SQLite stores as 32 hex digits. */
const UUID_COLUMNS = new Set(['id', 'uuid', 'auth_id', 'storage_id', 'machine_id', 'source_id']);

export interface SchemaOptions {
  /** Leave the foreign keys out, so a test can write a row that refers to nothing. */
  readonly withoutForeignKeys?: boolean;
}

export function originalSchema(dialect: 'sqlite' | 'postgres', options: SchemaOptions = {}): string[] {
  const file = dialect === 'sqlite' ? 'schema.sqlite.sql' : 'schema.postgres.sql';
  const statements = readFileSync(new URL(file, FIXTURES), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('--'));
  if (options.withoutForeignKeys !== true) return statements;
  return statements
    .filter((statement) => !statement.includes('FOREIGN KEY'))
    .map((statement) => statement.replace(/ REFERENCES "\w+" \("id"\) DEFERRABLE INITIALLY DEFERRED/g, ''));
}

/** Creates the original's tables in `db` and writes `data` in one transaction. */
export async function fillOriginal(db: Database, data: OriginalData, options: SchemaOptions = {}): Promise<void> {
  await db.transaction(async (tx) => {
    for (const statement of originalSchema(db.dialect, options)) await tx.run(statement);
    for (const [table, row] of data) {
      const entries = Object.entries(row);
      const columns = entries.map(([column]) => `"${column}"`).join(', ');
      const placeholders = entries.map((_, i) => `$${i + 1}`).join(', ');
      await tx.run(
        `INSERT INTO "${table}" (${columns}) VALUES (${placeholders})`,
        entries.map(([column, value]) => stored(db.dialect, column, value)),
      );
    }
  });
}

function stored(dialect: 'sqlite' | 'postgres', column: string, value: OriginalRow[string]) {
  if (Array.isArray(value)) return pythonJson(value as readonly string[]);
  if (typeof value !== 'string') return value as number | boolean | null;
  if (dialect === 'sqlite' && UUID_COLUMNS.has(column)) return value.replaceAll('-', '');
  if (dialect === 'postgres' && DJANGO_DATETIME.test(value)) return `${value}+00`;
  return value;
}

const DJANGO_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;

/** `json.dumps(list)` as the original writes its list fields: `["a", "b"]`. */
function pythonJson(list: readonly string[]): string {
  return `[${list.map((item) => JSON.stringify(item)).join(', ')}]`;
}

/** A new SQLite file in the original's schema (closed again: the import opens it itself). */
export async function createOriginalSqlite(path: string, data: OriginalData, options: SchemaOptions = {}) {
  const db = openSqlite(path);
  try {
    await fillOriginal(db, data, options);
  } finally {
    await db.close();
  }
}

export async function createOriginalPostgres(url: string, data: OriginalData, options: SchemaOptions = {}) {
  const db = openPostgres(url, { poolSize: 1 });
  try {
    await fillOriginal(db, data, options);
  } finally {
    await db.close();
  }
}

/** Django datetime text (UTC) → epoch milliseconds, computed independently of the importer. */
export function djangoMillis(text: string): number {
  return Date.parse(`${text.replace(' ', 'T').slice(0, 23)}Z`);
}

/** Django's Argon2PasswordHasher (3.2 defaults: argon2id, t=2, m=102400 KiB, p=8, 32-byte hash, 22-character salt). */
export async function djangoArgon2(secret: string): Promise<string> {
  const salt = randomAlphanumeric(22);
  const hash = await argon2id({
    password: secret,
    salt,
    iterations: 2,
    memorySize: 102_400,
    parallelism: 8,
    hashLength: 32,
    outputType: 'binary',
  });
  const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64').replace(/=+$/, '');
  return `argon2$argon2id$v=19$m=102400,t=2,p=8$${b64(salt)}$${b64(hash)}`;
}

/** Django's PBKDF2PasswordHasher (3.2: SHA-256, 260,000 iterations, base64 of the 32-byte key). */
export function djangoPbkdf2(secret: string): string {
  const salt = randomAlphanumeric(22);
  const hash = pbkdf2Sync(secret, salt, 260_000, 32, 'sha256').toString('base64');
  return `pbkdf2_sha256$260000$${salt}$${hash}`;
}
