/**
 * UUIDs as Turku uses them: machine UUIDs chosen by agents, and source ids whose canonical
 * string (lowercase, hyphenated) seeds the schedule hash.
 */

const HYPHENATED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const BARE = /^[0-9a-f]{32}$/i;

/** Lowercase hyphenated form of a hyphenated or 32-hex-digit UUID; undefined if it is neither. */
export function canonicalUuid(text: string): string | undefined {
  if (HYPHENATED.test(text)) return text.toLowerCase();
  if (BARE.test(text)) {
    const hex = text.toLowerCase();
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }
  return undefined;
}

/**
 * Whether a canonical UUID is acceptable as a machine identity: the RFC 4122 variant and a
 * defined version, and neither the nil nor the all-ones UUID. (The original also demanded
 * "enough entropy", which rejected about 0.36% of genuine random UUIDs.)
 */
export function isAcceptableMachineUuid(canonical: string): boolean {
  if (!HYPHENATED.test(canonical)) return false;
  const version = Number.parseInt(canonical[14]!, 16);
  const variant = Number.parseInt(canonical[19]!, 16);
  return version >= 1 && version <= 8 && (variant & 0b1100) === 0b1000;
}
