import { crc32 } from 'node:zlib';

/** CRC-32 (IEEE, as zlib computes it) of a key: strings are hashed as UTF-8. Unsigned 32-bit. */
export function crc32Of(key: string | Uint8Array): number {
  return crc32(key) >>> 0;
}

/**
 * The original's `hashedint`: a stable integer in [a, b] derived from a key, so that a source
 * keeps the same slot in its window for its whole life (the key is the canonical source id).
 */
export function hashedInt(a: number, b: number, key: string | Uint8Array): number {
  if (!Number.isInteger(a) || !Number.isInteger(b) || b < a) {
    throw new RangeError(`hashedInt: invalid range [${a}, ${b}]`);
  }
  return (crc32Of(key) % (b - a + 1)) + a;
}
