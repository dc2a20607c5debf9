// The content of a registration-credential secret (docs/charm-runtime.md, "Secrets"): what the API
// leader puts in the Juju secret whose id it publishes to agents (machine_reg) and storages
// (storage_reg). Only the secret's URI travels in relation data; the credential itself stays in the
// secret.
import * as z from 'zod/mini';

import { STRONG_SECRET_LENGTH } from '../turku/secret-strength.js';
import { type ReadResult, Line, readBag, writeBag } from './fields.js';

export const REGISTRATION_TYPES = ['machine_reg', 'storage_reg'] as const;
export type RegistrationType = (typeof REGISTRATION_TYPES)[number];

/**
 * The API accepts a registration secret of any length, but one the turku-api charm hands out is
 * its own random 32 characters: a short one here is damaged content, which the API leader
 * replaces and the other side refuses, so weak credentials never spread through relations.
 */
const MIN_SECRET_LENGTH = STRONG_SECRET_LENGTH;

/**
 * Secret content keys (Juju: lowercase letter first, then letters, digits and dashes). They map to
 * the workloads' `api_auth_name` / `api_auth_secret` settings (or `--api-auth-name/-secret`).
 */
export const RegistrationSecretContent = z.object({
  /** The Auth's name at the API (turku-api auth-create --name). */
  'auth-name': Line,
  /** The plaintext secret; the API stores only its hash. */
  'auth-secret': z.string().check(z.minLength(MIN_SECRET_LENGTH, `must be at least ${MIN_SECRET_LENGTH} characters`)),
  /** Which registrations it allows; an agent must not be handed a storage credential. */
  'auth-type': z.enum(REGISTRATION_TYPES, { error: `expected one of ${REGISTRATION_TYPES.join(', ')}` }),
});
export type RegistrationSecretContent = z.output<typeof RegistrationSecretContent>;

/** `secret-get` content -> the credential, checking it is of the `expected` type. */
export function readRegistrationSecret(
  content: Readonly<Record<string, string>>,
  expected: RegistrationType,
): ReadResult<RegistrationSecretContent> {
  const result = readBag(RegistrationSecretContent, content);
  if (result.ok && result.value['auth-type'] !== expected) {
    return { ok: false, problems: [`auth-type: expected "${expected}", got "${result.value['auth-type']}"`] };
  }
  return result;
}

/** The content for `secret-add` / `secret-set`; throws DatabagError naming a bad key. */
export function registrationSecretContent(value: RegistrationSecretContent): Record<string, string> {
  return writeBag(RegistrationSecretContent, value);
}
