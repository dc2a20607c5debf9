import * as z from 'zod';

import type { OutgoingQuery } from './queries.js';
import { STDIN_TERMINATOR, stdinFrame } from './stdin-encode.js';

/**
 * The SSH stdin protocol between agent and storage (docs/datapath.md, "The SSH stdin protocol"):
 * one JSON object on one line, then a line holding only ".". The storage identifies the machine by
 * its forced command's argument, never by anything in this message.
 */

export { STDIN_TERMINATOR };

/** One-time rsync credentials for one offered module. */
export const ModuleCredentials = z.looseObject({
  username: z.string(),
  password: z.string(),
});

/**
 * [NEW] A scripted restore: the storage pushes one snapshot of one source into the agent's
 * writable restore module by itself, then ends the session. Original storages ignore the key
 * and hold an interactive session instead.
 */
export const ScriptedRestore = z.looseObject({
  source: z.string().min(1),
  /** A snapshot name, or "latest". */
  snapshot: z.string().min(1).default('latest'),
  module: z.string().min(1).default('turku-restore'),
  username: z.string().min(1),
  password: z.string().min(1),
  /**
   * [NEW] Restore as of this instant (ISO 8601 with a zone): the newest snapshot taken at or
   * before it. The agent then sends `snapshot` as AS_OF_SNAPSHOT, which a storage without this
   * field refuses as an unknown snapshot instead of restoring `latest`.
   */
  as_of: z.iso.datetime({ offset: true }).optional(),
  /** [NEW] Only this relative path of the snapshot (lib/turku/restore-path.ts). */
  path: z.string().optional(),
  /** [NEW] The agent reads `turku-restore-*` lines on stdout (lib/turku/protocol/restore-report.ts). */
  progress: z.boolean().optional(),
  /**
   * [NEW] With `progress`: after the push, send the manifest of what was pushed
   * (restore-manifest.ts) so that the agent can check the restored tree.
   */
  verify: z.boolean().optional(),
});
export type ScriptedRestore = z.output<typeof ScriptedRestore>;

/** The `snapshot` an as-of request carries: no storage has a snapshot of that name. */
export const AS_OF_SNAPSHOT = '(as-of)';

export const StdinRequest = z.looseObject({
  /** The storage connects to 127.0.0.1:<port>; a numeric string is tolerated. */
  port: z
    .union([z.number(), z.string().regex(/^\d+$/, 'Invalid port')], { error: 'Port required' })
    .transform(Number)
    .pipe(z.number().int().min(1, 'Invalid port').max(65535, 'Invalid port')),
  /** Anything but "restore", including absence, means check-in. */
  action: z.enum(['checkin', 'restore']).catch('checkin'),
  verbose: z.boolean().optional(),
  sources: z.record(z.string(), ModuleCredentials).optional(),
  restore: ScriptedRestore.optional(),
  /** [NEW] A read-only query (queries.ts), checked in full by the storage, which answers its errors. */
  query: z.looseObject({}).optional(),
});
export type StdinRequest = z.output<typeof StdinRequest>;

/** What our agent sends: a check-in offering modules, or a restore session. */
export interface OutgoingStdinRequest {
  port: number;
  action?: 'checkin' | 'restore';
  verbose?: boolean;
  sources?: Record<string, { username: string; password: string }>;
  restore?: {
    source: string;
    snapshot: string;
    module: string;
    username: string;
    password: string;
    as_of?: string;
    path?: string;
    progress?: boolean;
    verify?: boolean;
  };
  query?: OutgoingQuery;
}

export class StdinProtocolError extends Error {
  override name = 'StdinProtocolError';
}

/** What the agent writes to ssh's stdin (stdin-encode.ts). */
export function encodeStdinRequest(request: OutgoingStdinRequest): string {
  return stdinFrame(request);
}

/**
 * The JSON text of a frame: the lines before the first line that is "." once trailing
 * whitespace is stripped, or all of them at end-of-file. `undefined` when the frame is still
 * open, so a reader can wait for more input.
 */
export function frameText(received: string, endOfFile: boolean): string | undefined {
  const lines = received.split('\n');
  // Without end-of-file the last piece may be a partial line.
  const complete = endOfFile ? lines : lines.slice(0, -1);
  const end = complete.findIndex((line) => line.trimEnd() === '.');
  if (end >= 0) return complete.slice(0, end).join('\n');
  return endOfFile ? complete.join('\n') : undefined;
}

/** Parses a complete frame's text; messages are the storage's log lines for each failure. */
export function parseStdinRequest(text: string): StdinRequest {
  if (text.trim() === '') throw new StdinProtocolError('session aborted');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StdinProtocolError('Invalid input JSON');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new StdinProtocolError('Invalid input JSON');
  }
  const parsed = StdinRequest.safeParse(json);
  if (!parsed.success) throw new StdinProtocolError(parsed.error.issues[0]?.message ?? 'Invalid request');
  return parsed.data;
}
