import { createHash, randomBytes } from 'node:crypto';

import { constantTimeEqual } from '../kdf.js';
import type { Database } from '../db/database.js';
import type { ConsoleAdmin } from './admins.js';

/**
 * Console sessions (docs/api.md, "Web console"): a random token in an HttpOnly, SameSite=Strict
 * cookie; the database keeps only its SHA-256, so a copy of the database opens no session. Each
 * session has its own random CSRF token, which every form carries and every POST must return.
 * Kept in the database, not in memory, so a session works on every API unit and survives a restart.
 */

export const SESSION_COOKIE = 'turku_console';
/** The login form's own CSRF token (double-submit): a cookie and a form field that must match. */
export const LOGIN_COOKIE = 'turku_console_login';

export interface Session {
  readonly admin: ConsoleAdmin;
  readonly csrf: string;
  readonly expires: Date;
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createSession(
  db: Database,
  admin: ConsoleAdmin,
  now: Date,
  lifetimeMs: number,
): Promise<{ readonly token: string; readonly session: Session }> {
  const token = newToken();
  const session: Session = { admin, csrf: newToken(), expires: new Date(now.getTime() + lifetimeMs) };
  await db.transaction(async (tx) => {
    // Expired sessions go as new ones come: the table stays the size of the live sessions.
    await tx.run('DELETE FROM console_sessions WHERE date_expires <= $1', [now.getTime()]);
    await tx.run(
      'INSERT INTO console_sessions (token_hash, admin_id, csrf_token, date_created, date_expires) VALUES ($1, $2, $3, $4, $5)',
      [tokenHash(token), admin.id, session.csrf, now.getTime(), session.expires.getTime()],
    );
  });
  return { token, session };
}

/** The live session of `token`, if any: not expired, of an admin still active. */
export async function findSession(db: Database, token: string | undefined, now: Date): Promise<Session | undefined> {
  if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
  const row = await db.transaction((tx) =>
    tx.get<{ admin_id: string; name: string; csrf_token: string; date_expires: unknown }>(
      `SELECT s.admin_id, a.name, s.csrf_token, s.date_expires FROM console_sessions s
        JOIN console_admins a ON a.id = s.admin_id
        WHERE s.token_hash = $1 AND s.date_expires > $2 AND a.active`,
      [tokenHash(token), now.getTime()],
    ),
  );
  if (row === undefined) return undefined;
  return {
    admin: { id: String(row.admin_id), name: String(row.name) },
    csrf: String(row.csrf_token),
    expires: new Date(Number(row.date_expires)),
  };
}

export async function endSession(db: Database, token: string): Promise<void> {
  await db.transaction((tx) => tx.run('DELETE FROM console_sessions WHERE token_hash = $1', [tokenHash(token)]));
}

/** Whether a form's CSRF token is the expected one; constant time, and never true for an absent one. */
export function csrfMatches(expected: string, submitted: string | undefined): boolean {
  if (submitted === undefined || submitted === '' || expected === '') return false;
  return constantTimeEqual(Buffer.from(expected), Buffer.from(submitted));
}

/** `name=value` pairs of a Cookie header. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const index = part.indexOf('=');
    if (index < 0) continue;
    const name = part.slice(0, index).trim();
    if (name !== '' && !cookies.has(name)) cookies.set(name, part.slice(index + 1).trim());
  }
  return cookies;
}

/** A Set-Cookie value for the console's path; `maxAgeSeconds` 0 deletes the cookie. */
export function cookie(name: string, value: string, maxAgeSeconds: number, secure: boolean): string {
  return [
    `${name}=${value}`,
    'Path=/console',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}
