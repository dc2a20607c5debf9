import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  INLINE_LISTING_BYTES,
  KEPT_OUTPUT_FILES,
  boundListing,
  listingResults,
  outputFileName,
  writeActionOutput,
} from './large-results.js';
import { flattenActionResults } from './action-results.js';
import { MAX_ARG_BYTES, argvBytes } from './argv-limits.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'large-results-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const JUJU = { actionName: 'list-sources', actionId: '7' };

describe('boundListing', () => {
  test('a listing that fits is whole', () => {
    expect(boundListing(['a', 'b'], 100)).toEqual({ value: ['a', 'b'], shown: 2, total: 2, truncated: false });
    expect(boundListing({ x: 1 }, 100)).toEqual({ value: { x: 1 }, shown: 1, total: 1, truncated: false });
    expect(boundListing([], 2)).toEqual({ value: [], shown: 0, total: 0, truncated: false });
  });

  test('the longest prefix whose compact JSON fits, counted in UTF-8 bytes', () => {
    // ["aa","bb"] is 11 bytes; ["aa","bb","cc"] 16.
    expect(boundListing(['aa', 'bb', 'cc'], 15)).toMatchObject({ value: ['aa', 'bb'], shown: 2, truncated: true });
    expect(JSON.stringify(boundListing(['aa', 'bb', 'cc'], 16).value)).toHaveLength(16);
    // "é" is two bytes: ["éé"] is 8 bytes.
    expect(boundListing(['éé'], 7)).toMatchObject({ value: [], shown: 0, total: 1, truncated: true });
    expect(boundListing(['éé'], 8)).toMatchObject({ shown: 1, truncated: false });
  });

  test('map entries keep their order; an entry is never cut', () => {
    const listing = { web: { path: '/srv' }, db: { path: 'x'.repeat(100) }, mail: {} };
    expect(boundListing(listing, 60)).toEqual({
      value: { web: { path: '/srv' } },
      shown: 1,
      total: 3,
      truncated: true,
    });
  });

  test('any listing, bounded with the default budget, stays far below the argv limit', () => {
    const huge = Array.from({ length: 50_000 }, (_, i) => ({ name: `snapshot-${i}`, date: '2026-01-01T00:00:00Z' }));
    const bounded = boundListing(huge, INLINE_LISTING_BYTES);
    const [pair] = flattenActionResults({ snapshots: JSON.stringify(bounded.value) });
    expect(argvBytes(pair!)).toBeLessThan(MAX_ARG_BYTES);
    expect(bounded.shown).toBeGreaterThan(0);
  });
});

describe('listingResults', () => {
  test('a listing that fits goes inline and writes no file', async () => {
    const results = await listingResults(JUJU, { key: 'sources', listing: { web: {} }, dir });
    expect(results).toEqual({ sources: '{"web":{}}' });
    expect(await readdir(dir)).toEqual([]);
  });

  test('a long listing: bounded inline, the whole of it in a 0600 file the result names', async () => {
    const listing = Array.from({ length: 2000 }, (_, i) => `machine-${i}`);
    const out = join(dir, 'action-results');
    const results = await listingResults(JUJU, { key: 'machines', listing, dir: out, maxBytes: 1000 });
    expect(results['truncated']).toBe('true');
    const shown = Number(results['shown']);
    expect(JSON.parse(results['machines']!)).toEqual(listing.slice(0, shown));
    expect(Buffer.byteLength(results['machines']!)).toBeLessThanOrEqual(1000);
    expect(results['full-output']).toBe(join(out, 'list-sources-7.json'));
    expect(JSON.parse(await readFile(results['full-output']!, 'utf8'))).toEqual(listing);
    expect((await stat(results['full-output']!)).mode & 0o777).toBe(0o600);
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    // Every key is a valid action-set key.
    expect(() => flattenActionResults(results)).not.toThrow();
  });

  test('file names are safe whatever the task id (a UUID in Juju 2.9)', () => {
    expect(outputFileName({ actionName: 'list-snapshots', actionId: '../x y' })).toBe('list-snapshots-___x_y.json');
  });

  test('old outputs are pruned: the newest ones are kept', async () => {
    for (let i = 0; i < KEPT_OUTPUT_FILES + 3; i += 1) {
      const path = join(dir, `old-${i}.json`);
      await writeFile(path, '[]');
      await utimes(path, 1000 + i, 1000 + i);
    }
    await writeFile(join(dir, 'notes.txt'), 'not an output');
    await writeActionOutput(dir, 'new.json', '[]\n');
    const names = await readdir(dir);
    expect(names.filter((name) => name.endsWith('.json'))).toHaveLength(KEPT_OUTPUT_FILES);
    expect(names).toContain('new.json');
    expect(names).toContain('notes.txt');
    for (const gone of ['old-0.json', 'old-1.json', 'old-2.json', 'old-3.json']) expect(names).not.toContain(gone);
  });
});
