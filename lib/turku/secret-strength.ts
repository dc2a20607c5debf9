/**
 * Which secrets count as strong (docs/api.md, "Secrets"). Machine and registration
 * secrets are generated (30 random alphanumerics), but storage secrets are whatever the storage's
 * operator wrote in its config, and original storages with short ones exist. Every length but
 * zero is accepted; a secret under this length is *weak*: the API stores it with a slow KDF and
 * lists it as weak, and the storage warns about it in its log.
 */
export const STRONG_SECRET_LENGTH = 20;

export function isWeakSecret(secret: string): boolean {
  return secret.length < STRONG_SECRET_LENGTH;
}
