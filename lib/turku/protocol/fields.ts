import * as z from 'zod';

import { hasControlCharacters, sourceNameProblem, sshPublicKeyProblem } from '../names.js';
import { canonicalUuid, isAcceptableMachineUuid } from '../uuid.js';

/** Field schemas shared by the /v1 messages and the SSH stdin messages. */

/** Adds a custom issue when `problem` finds one. */
export function checked<T extends z.ZodType<string>>(schema: T, problem: (value: string) => string | undefined): T {
  return schema.check((ctx) => {
    const found = problem(ctx.value);
    if (found !== undefined) ctx.issues.push({ code: 'custom', message: found, input: ctx.value });
  });
}

/**
 * The original's booleans: JSON booleans, and also 0/1 and "true"/"false", which hand-written
 * YAML and older agents send.
 */
export const Flag = z
  .union([z.boolean(), z.literal(0), z.literal(1), z.enum(['true', 'false'])], {
    error: 'expected a boolean (true/false, 0/1 or "true"/"false")',
  })
  .transform((value) => value === true || value === 1 || value === 'true');

/** A name shown to operators (unit, service, environment): one line without control characters. */
export const DisplayName = checked(z.string().max(200), (value) =>
  hasControlCharacters(value) ? 'must not contain control characters' : undefined,
);

export const SourceName = checked(z.string(), sourceNameProblem);

export const SshPublicKey = checked(z.string(), sshPublicKeyProblem);

/** A machine UUID in any form Python's uuid module prints; parsed to the canonical form. */
export const MachineUuid = z.string().transform((value, ctx) => {
  const canonical = canonicalUuid(value);
  if (canonical === undefined) {
    ctx.issues.push({
      code: 'custom',
      message: 'Invalid machine UUID',
      input: value,
    });
    return z.NEVER;
  }
  return canonical;
});

/** Stricter, for a machine's first registration: the RFC 4122 variant, not nil or all-ones. */
export const NewMachineUuid = MachineUuid.check((ctx) => {
  if (!isAcceptableMachineUuid(ctx.value)) {
    ctx.issues.push({
      code: 'custom',
      message: 'Invalid UUID format',
      input: ctx.value,
    });
  }
});

/** Registration credential: `{name, secret}`, or the legacy bare secret string. */
export const Auth = z.union([z.object({ name: z.string(), secret: z.string() }), z.string()], {
  error: 'auth must be {"name", "secret"} or a string',
});
export type Auth = z.infer<typeof Auth>;

export const Port = z.number().int().min(1).max(65535);

/** Space in MiB: the original sends floats, stored as whole MiB. */
export const MebiBytes = z
  .number()
  .min(0)
  .max(Number.MAX_SAFE_INTEGER)
  .transform((value) => Math.floor(value));

/** Epoch seconds (floats), as the storage reports sync times. */
export const EpochSeconds = z.number().finite();
