import type { z } from 'zod';

/**
 * Turns the first problem zod found into one line an operator can act on, in the original's
 * style: `source "home": frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)`.
 * Messages the original gives verbatim for a missing or mistyped envelope part (such as
 * `Missing required machine option "uuid"`) come back bare.
 */

const ENVELOPE_MESSAGE = /^(Missing required |"machine" dict required$|Invalid type for |Invalid (machine )?UUID)/;

export function formatIssue(issue: z.core.$ZodIssue): string {
  if (ENVELOPE_MESSAGE.test(issue.message)) return issue.message;
  const path = issue.path.map(String);
  const sourceAt = path.indexOf('sources');
  if (sourceAt >= 0 && sourceAt + 1 < path.length) {
    const name = path[sourceAt + 1];
    if (issue.code === 'invalid_key') {
      return `source name "${name}": ${issue.issues[0]?.message ?? issue.message}`;
    }
    const rest = path.slice(sourceAt + 2).join('.');
    return rest === '' ? `source "${name}": ${issue.message}` : `source "${name}": ${rest}: ${issue.message}`;
  }
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  return path.length === 0 ? message : `${path.join('.')}: ${message}`;
}

export function formatFirstIssue(error: z.ZodError): string {
  const first = error.issues[0];
  return first === undefined ? 'invalid input' : formatIssue(first);
}
