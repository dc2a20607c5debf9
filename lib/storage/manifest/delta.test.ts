import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { seededRandom } from '../../common/seeded-random.js';
import { manifestEntries } from '../../common/tree-manifest.js';
import { encodeEntryLine, encodeManifest, ManifestFormatError, manifestBody } from '../../turku/manifest.js';
import { changeRandomly, itemized, writeRandomTree } from '../../../tests/support/random-tree-changes.js';
import { addedFiles, composeChanges, encodeDelta, parseDelta, type Delta } from './delta.js';
import { changedEntries, patchText, type ChangedEntries } from './patch.js';

/**
 * An incremental's manifest kept as a delta on its base's (docs/datapath.md, "Manifests and
 * verify"): written and read back, it is the same changes; several in a row, composed into one,
 * patch the first base into what a walk of the last tree records, as patching with each in turn does.
 */

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-delta-'));
});
afterEach(() => rm(root, { recursive: true, force: true }));

async function walkedLines(): Promise<string[]> {
  return (await manifestEntries(root)).entries.map((entry) => encodeEntryLine(entry));
}

function bodyOf(lines: readonly string[]) {
  const header = {
    snapshot: 'base',
    created: '2024-01-01T00:00:00.000Z',
    recorded: 'backup',
    hashed: 0,
    reused: 0,
  } as const;
  const text = `${encodeManifest({ header, entries: [] })}${lines.map((line) => `${line}\n`).join('')}`;
  return manifestBody(text);
}

function deltaOf(changed: ChangedEntries, depth: number): Delta {
  return {
    header: {
      snapshot: `s${depth}`,
      created: `2024-01-0${depth + 1}T00:00:00.000Z`,
      recorded: 'backup',
      hashed: changed.hashed,
      base: { dir: `s${depth - 1}`, snapshot: `s${depth - 1}`, created: `2024-01-0${depth}T00:00:00.000Z` },
      depth,
    },
    changed,
  };
}

test.each([1, 2, 3, 4, 5, 6])(
  'random trees changed four times (seed %i): the deltas composed patch the first manifest into each later one',
  async (seed) => {
    const random = seededRandom(seed);
    const tree = await writeRandomTree(root, random);
    const first = await walkedLines();
    let previous = first;
    let composed: ChangedEntries | null = null;
    for (let round = 1; round <= 4; round++) {
      await changeRandomly(root, tree, random, `${seed}-${round}`);
      const walked = await walkedLines();
      const changed = await changedEntries(root, itemized(previous, walked));
      // Through its text: what is read back is what was written.
      const delta = parseDelta(encodeDelta(deltaOf(changed, round)));
      expect(delta.header).toEqual(deltaOf(changed, round).header);
      expect(delta.changed.added).toEqual(changed.added);
      expect([...delta.changed.removed].sort()).toEqual([...changed.removed].sort());

      const stepwise = patchText(bodyOf(previous), delta.changed);
      composed = composed === null ? delta.changed : composeChanges(composed, delta.changed);
      const atOnce = patchText(bodyOf(first), composed);
      expect(atOnce.body).toBe(`${walked.map((line) => `${line}\n`).join('')}`);
      expect(atOnce.body).toBe(stepwise.body);
      // The files the last one took from its own base, found from the first base (stored.ts).
      expect(atOnce.reused + addedFiles(composed) - addedFiles(delta.changed)).toBe(stepwise.reused);
      previous = walked;
    }
  },
);

test('a damaged delta is refused with the line that is wrong', () => {
  const good = encodeDelta(deltaOf({ added: [], removed: new Set(['gone']), hashed: 0, hashedBytes: 0 }, 1));
  expect(parseDelta(good).changed.removed).toEqual(new Set(['gone']));
  expect(() => parseDelta(good.replace('-gone', '?gone'))).toThrow(/line 2: neither an entry added nor one removed/);
  expect(() => parseDelta(`${good}+x\tf\t1\t644\t0\tnot-a-digest\n`)).toThrow(/line 3: bad sha256/);
  expect(() => parseDelta(good.replace('"depth":1', '"depth":0'))).toThrow(ManifestFormatError);
  expect(() => parseDelta(good.replace('turku-manifest-delta', 'turku-manifest'))).toThrow(
    /not a turku manifest delta/,
  );
  expect(() => parseDelta(good.slice(0, -1))).toThrow(/does not end with a newline/);
  const unordered = `${good}+b\td\t0\t755\t0\t-\n+a\td\t0\t755\t0\t-\n`;
  expect(() => parseDelta(unordered)).toThrow(/out of walk order/);
});
