import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';

import {
  encodeManifestChunks,
  isManifestLine,
  MANIFEST_CHUNK_BYTES,
  parseManifestChunk,
  RESTORE_MANIFEST_PREFIX,
} from './restore-manifest.js';
import { parseStdinRequest } from './stdin.js';

/** docs/datapath.md, "Verified restores": the manifest lines. */
describe('manifest lines', () => {
  it('carry any bytes in chunks of at most 48 KiB, one line each', () => {
    const gz = randomBytes(2 * MANIFEST_CHUNK_BYTES + 5);
    const lines = encodeManifestChunks(gz);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line.startsWith(RESTORE_MANIFEST_PREFIX) && line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
    }
    expect(Buffer.concat(lines.map((line) => parseManifestChunk(line)!))).toEqual(gz);
    expect(encodeManifestChunks(Buffer.alloc(0))).toEqual([]);
  });

  it('a malformed one reads as nothing; other lines are not manifest lines', () => {
    expect(parseManifestChunk(`${RESTORE_MANIFEST_PREFIX}{"version":1,"data":"@@"}\n`)).toBeUndefined();
    expect(parseManifestChunk(`${RESTORE_MANIFEST_PREFIX}{"data":"AA=="}\n`)).toBeUndefined();
    expect(parseManifestChunk(`${RESTORE_MANIFEST_PREFIX}not json\n`)).toBeUndefined();
    const big = 'A'.repeat(4 * (MANIFEST_CHUNK_BYTES / 3) + 4);
    expect(parseManifestChunk(`${RESTORE_MANIFEST_PREFIX}{"version":1,"data":"${big}"}`)).toBeUndefined();
    expect(parseManifestChunk(`${RESTORE_MANIFEST_PREFIX}{"version":2,"data":"AAE=","more":1}`)).toEqual(
      Buffer.from([0, 1]),
    );
    expect(isManifestLine('turku-restore-done {}')).toBe(false);
  });
});

describe('the restore request’s verify key', () => {
  it('is read when present and optional', () => {
    const restore = { source: 'etc', username: 'u', password: 'p' };
    expect(
      parseStdinRequest(JSON.stringify({ port: 1, action: 'restore', restore: { ...restore, verify: true } })),
    ).toMatchObject({ restore: { verify: true } });
    expect(parseStdinRequest(JSON.stringify({ port: 1, action: 'restore', restore })).restore?.verify).toBeUndefined();
  });
});
