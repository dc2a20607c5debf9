import { randomUUID } from 'node:crypto';

import { toBool, type Database } from '../db/database.js';
import { generateSecret, hashSecret, NO_RECORD_HASH, verifySecret } from '../secrets.js';

/**
 * Console administrators (docs/api.md, "Web console"): a name and a secret, stored hashed as the
 * registration credentials are (secrets.ts), in their own table so no admin secret can ever
 * register a machine or a storage, and no registration secret can log in.
 */

export class ConsoleAdminError extends Error {
  override name = 'ConsoleAdminError';
}

export interface ConsoleAdmin {
  readonly id: string;
  readonly name: string;
}

function checkName(name: string): void {
  if (name.trim() === '' || name.length > 200) throw new ConsoleAdminError('the name must be 1-200 characters');
}

/** A new admin with a random secret, returned once (the caller prints it). */
export async function createAdmin(db: Database, name: string, now: Date): Promise<{ name: string; secret: string }> {
  checkName(name);
  const secret = generateSecret();
  const secretHash = await hashSecret(secret);
  await db.transaction(async (tx) => {
    if ((await tx.get('SELECT id FROM console_admins WHERE name = $1', [name])) !== undefined) {
      throw new ConsoleAdminError(`a console admin named "${name}" already exists`);
    }
    await tx.run('INSERT INTO console_admins (id, name, secret_hash, active, date_added) VALUES ($1, $2, $3, $4, $5)', [
      randomUUID(),
      name,
      secretHash,
      true,
      now.getTime(),
    ]);
  });
  return { name, secret };
}

/**
 * Makes the admin `name` exist, active, with exactly `secret` (idempotent, for the charm, which
 * keeps the secret in a Juju secret). Changing the secret ends the admin's sessions.
 */
export async function ensureAdmin(
  db: Database,
  name: string,
  secret: string,
  now: Date,
): Promise<'created' | 'updated' | 'unchanged'> {
  checkName(name);
  if (secret === '' || secret.includes('\0')) throw new ConsoleAdminError('the secret must be non-empty, without NUL');
  const row = await db.transaction((tx) =>
    tx.get<{ id: string; secret_hash: string; active: unknown }>(
      'SELECT id, secret_hash, active FROM console_admins WHERE name = $1',
      [name],
    ),
  );
  const verification = row === undefined ? undefined : await verifySecret(secret, row.secret_hash);
  const secretHash = verification?.ok === true && !verification.rehash ? undefined : await hashSecret(secret);
  return db.transaction(async (tx) => {
    if (row === undefined) {
      await tx.run(
        'INSERT INTO console_admins (id, name, secret_hash, active, date_added) VALUES ($1, $2, $3, $4, $5)',
        [randomUUID(), name, secretHash!, true, now.getTime()],
      );
      return 'created';
    }
    const active = toBool(row.active);
    if (secretHash === undefined && active) return 'unchanged';
    if (secretHash !== undefined) {
      await tx.run('UPDATE console_admins SET secret_hash = $1 WHERE id = $2', [secretHash, row.id]);
      await tx.run('DELETE FROM console_sessions WHERE admin_id = $1', [row.id]);
    }
    if (!active) await tx.run('UPDATE console_admins SET active = $1 WHERE id = $2', [true, row.id]);
    return 'updated';
  });
}

/**
 * The active admin `name` if `secret` is theirs. An unknown name costs the same check as a
 * known one (against NO_RECORD_HASH), so timing does not tell which names exist.
 */
export async function verifyAdmin(db: Database, name: string, secret: string): Promise<ConsoleAdmin | undefined> {
  const row = await db.transaction((tx) =>
    tx.get<{ id: string; name: string; secret_hash: string }>(
      'SELECT id, name, secret_hash FROM console_admins WHERE name = $1 AND active',
      [name],
    ),
  );
  const verification = await verifySecret(secret, row?.secret_hash ?? NO_RECORD_HASH);
  if (row === undefined || !verification.ok) return undefined;
  if (verification.rehash) {
    const secretHash = await hashSecret(secret);
    await db.transaction((tx) =>
      tx.run('UPDATE console_admins SET secret_hash = $1 WHERE id = $2', [secretHash, row.id]),
    );
  }
  return { id: String(row.id), name: String(row.name) };
}
