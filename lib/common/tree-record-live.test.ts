import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, mkdtemp, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { encodeEntryLine } from '../turku/manifest.js';
import { SCHED_IDLE, threadSchedules } from '../../tests/support/thread-nices.js';
import { treeText } from '../../tests/support/tree-texts.js';
import { MEMBER_GZIP, readManifestFile, writeManifestTexts } from './manifest-file.js';
import { manifestEntries } from './tree-manifest.js';
import { checkLive, recordLive } from './tree-record-live.js';
import { LiveRecording } from './tree-record-live-pool.js';
import { recordTree } from './tree-record-pool.js';
import { recordDirectory, type EarlyHash } from './tree-record-share.js';
import { shareKit } from './tree-share-kit.js';

const deps = { fs, crypto };
const kit = shareKit(deps);
const MIN = 1000; // files of this size and more are left to the early hashes
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'tree-record-live-'));
  await mkdir(join(root, 'd/sub'), { recursive: true });
  await writeFile(join(root, 'd/small'), 'small');
  await writeFile(join(root, 'd/big'), Buffer.alloc(MIN, 7));
  await writeFile(join(root, 'd/sub/deeper'), 'deeper');
  await symlink('small', join(root, 'd/link'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha = (data: string | Buffer) => crypto.hash('sha256', data, 'hex');
/** The directory's text as recorded after rsync (tree-record-share.ts), the reference. */
const recordedNow = (dir: string, early: ReadonlyMap<string, EarlyHash> | null = null) =>
  recordDirectory(deps, kit, { root, dir, early }).text;
const lineOf = (text: string, path: string) => text.split('\n').find((line) => line.startsWith(`${path}\t`));
function earlyOf(path: string, sha256: string): EarlyHash {
  const s = fs.lstatSync(join(root, path), { bigint: true });
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, sha256 };
}

describe('recordLive and checkLive', () => {
  it('give the lines of a directory unchanged since, the larger files from their early hashes', () => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    expect(record.lines.filter((line) => line === null)).toHaveLength(2); // big, sub: at the check
    const early = new Map([['d/big', earlyOf('d/big', sha(Buffer.alloc(MIN, 7)))]]);
    const checked = checkLive(deps, kit, { root, record, early })!;
    expect(checked.text).toBe(recordedNow('d'));
    expect(checked).toMatchObject({ entries: 4, subdirs: ['d/sub'], early: 1, hashed: 3, error: null });
    expect(checked.readBytes).toBe('small'.length);
  });

  it('reads a larger file at the check when its early hash is missing or of another file', () => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    const wrong = new Map([['d/big', { ...earlyOf('d/big', 'f'.repeat(64)), ctimeNs: 1n }]]);
    for (const early of [null, wrong]) {
      const checked = checkLive(deps, kit, { root, record, early })!;
      expect(lineOf(checked.text, 'd/big')).toMatch(new RegExp(`\t${sha(Buffer.alloc(MIN, 7))}$`));
      expect(checked.early).toBe(0);
    }
  });

  it('gives nothing (record it anew) once a file was replaced in it, as rsync replaces one', async () => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    const { mtime } = fs.statSync(join(root, 'd/small'));
    // rsync's way: another file, its times set, renamed over it (same size, same mtime).
    await writeFile(join(root, 'd/.small.tmp'), 'SMALL');
    await utimes(join(root, 'd/.small.tmp'), mtime, mtime);
    await rename(join(root, 'd/.small.tmp'), join(root, 'd/small'));
    expect(checkLive(deps, kit, { root, record, early: null })).toBeNull();
  });

  it('takes no directory changed within 20 ms of its listing: it waits until the ctime is older', async () => {
    await writeFile(join(root, 'd/fresh'), 'fresh');
    const started = Date.now();
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    const ctime = Number(fs.lstatSync(join(root, 'd'), { bigint: true }).ctimeNs / 1000000n);
    expect(Date.now()).toBeGreaterThanOrEqual(ctime + 20);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(checkLive(deps, kit, { root, record, early: null })!.text).toBe(recordedNow('d'));
  });

  it("makes a subdirectory's line at the check, as rsync sets a directory's times at its end", async () => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    await utimes(join(root, 'd/sub'), 1_000_000, 1_000_000);
    const checked = checkLive(deps, kit, { root, record, early: null })!;
    expect(lineOf(checked.text, 'd/sub')).toMatch(/^d\/sub\td\t0\t\d+\t1000000000000000\t-$/);
    expect(checked.text).toBe(recordedNow('d'));
  });

  it.each([
    ['a name added', () => writeFile(join(root, 'd/new'), 'new')],
    ['a name gone (a temporary file renamed)', () => rename(join(root, 'd/small'), join(root, 'd/small2'))],
    ['a file removed', () => rm(join(root, 'd/small'))],
    ['a file now a directory', async () => rm(join(root, 'd/small')).then(() => mkdir(join(root, 'd/small')))],
    ['the directory gone', () => rm(join(root, 'd'), { recursive: true })],
  ])('gives nothing (record it anew) for %s', async (_, change) => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    await change();
    expect(checkLive(deps, kit, { root, record, early: null })).toBeNull();
  });

  describe('a directory of small files and symlinks alone', () => {
    const compress = (text: string) => gzipSync(text, MEMBER_GZIP);
    const fill = async (dir: string, files: number) => {
      await mkdir(join(root, dir));
      for (let i = 0; i < files; i++) await writeFile(join(root, dir, `f${i}`), `file ${i}`);
      await symlink('f0', join(root, dir, 'link'));
    };

    it('is compressed at its listing; the check takes it as it is', async () => {
      await fill('many', 15); // 16 entries with the link
      const record = recordLive(deps, kit, { root, dir: 'many', minBytes: MIN, compress })!;
      expect(record.member).not.toBeNull();
      expect(record.lines).toEqual([]);
      const checked = checkLive(deps, kit, { root, record, early: null })!;
      expect(checked.text).toBe('');
      expect(gunzipSync(checked.member!).toString('utf8')).toBe(recordedNow('many'));
      const bytes = 10 * 'file 0'.length + 5 * 'file 10'.length + 'f0'.length; // the files, then the link's target
      expect(checked).toMatchObject({ entries: 16, subdirs: [], hashed: 16, hashedBytes: bytes, readBytes: bytes - 2 });
    });

    it('changed after its listing: the check gives nothing (it is recorded anew)', async () => {
      await fill('many', 15);
      const record = recordLive(deps, kit, { root, dir: 'many', minBytes: MIN, compress })!;
      await writeFile(join(root, 'many/.f3.tmp'), 'file 3');
      await rename(join(root, 'many/.f3.tmp'), join(root, 'many/f3'));
      expect(checkLive(deps, kit, { root, record, early: null })).toBeNull();
    });

    it('is not compressed with fewer than 16 entries, a subdirectory or a larger file', async () => {
      await fill('few', 14);
      expect(recordLive(deps, kit, { root, dir: 'few', minBytes: MIN, compress })!.member).toBeNull();
      await fill('nested', 15);
      await mkdir(join(root, 'nested/sub'));
      expect(recordLive(deps, kit, { root, dir: 'nested', minBytes: MIN, compress })!.member).toBeNull();
      await fill('large', 15);
      await writeFile(join(root, 'large/big'), Buffer.alloc(MIN));
      const large = recordLive(deps, kit, { root, dir: 'large', minBytes: MIN, compress })!;
      expect(large.member).toBeNull();
      expect(checkLive(deps, kit, { root, record: large, early: null })!.text).toBe(recordedNow('large'));
    });
  });

  it('checks the tree where it is now (moved since the record)', async () => {
    const record = recordLive(deps, kit, { root, dir: 'd', minBytes: MIN, compress: null })!;
    const before = recordedNow('d');
    await rename(root, `${root}.moved`);
    try {
      expect(checkLive(deps, kit, { root: `${root}.moved`, record, early: null })!.text).toBe(before);
    } finally {
      await rename(`${root}.moved`, root);
    }
  });
});

describe('LiveRecording', () => {
  /** What rsync prints of a file: its size, then its name. */
  const offerFile = async (live: LiveRecording, path: string, data: string) => {
    await writeFile(join(root, path), data);
    live.offer(`${data.length} ${path}`);
  };

  it('records each directory once rsync names files two directories further, and the manifest is the walk’s', async () => {
    await rm(root, { recursive: true });
    for (const dir of ['a', 'b', 'c', 'e', 'g']) await mkdir(join(root, dir), { recursive: true });
    const live = new LiveRecording(root, MIN, 2, 0);
    live.offer('4096 a/'); // a directory's own line: not a file's progress
    for (const dir of ['a', 'b', 'c']) for (let i = 0; i < 3; i++) await offerFile(live, `${dir}/f${i}`, `${dir}${i}`);
    await symlink('f0', join(root, 'c/link'));
    live.offer('2 c/link -> f0');
    await offerFile(live, 'e/f0', 'e0'); // a and b are now done
    await offerFile(live, 'g/f0', 'g0'); // and c
    await live.settled();
    // Its two workers run at the lowest priority: nice 19, under SCHED_IDLE.
    const threads = await threadSchedules();
    expect(threads.filter((thread) => thread.nice === 19)).toEqual([
      { nice: 19, policy: SCHED_IDLE },
      { nice: 19, policy: SCHED_IDLE },
    ]);
    // After their record: one file replaced, one added.
    await offerFile(live, 'g/f1', 'g1');
    // rsync's way of changing a file: another one renamed over it.
    await writeFile(join(root, 'a/.f1.tmp'), 'changed later');
    await rename(join(root, 'a/.f1.tmp'), join(root, 'a/f1'));
    await writeFile(join(root, 'b/late'), 'not named');
    live.pullEnded();

    const tree = await recordTree(root, { live });
    const walked = await manifestEntries(root);
    expect(tree.entries).toBe(walked.entries.length);
    const text = treeText(tree.texts);
    expect(text).toContain(`a/f1\tf\t13\t644\t`);
    expect(text).toContain(sha('changed later'));
    expect(text).toContain('b/late\tf\t');
    expect(text).toBe(walked.entries.map((entry) => `${encodeEntryLine(entry)}\n`).join(''));
    // a and b changed after their record: recorded anew; c is taken as recorded.
    expect(tree.live).toBe(1);
  });

  it('writes a directory it compressed while rsync ran into the manifest file, which reads as the walk', async () => {
    await rm(root, { recursive: true });
    for (const dir of ['a', 'b', 'c']) await mkdir(join(root, dir), { recursive: true });
    const live = new LiveRecording(root, MIN, 2, 0);
    for (let i = 0; i < 20; i++) await offerFile(live, `a/f${i}`, `a${i}`);
    await offerFile(live, 'b/f', 'b');
    await offerFile(live, 'c/f', 'c'); // a is done
    await live.settled();
    live.pullEnded();
    const tree = await recordTree(root, { live });
    expect(tree.live).toBe(1);
    expect(tree.texts.filter((text) => typeof text !== 'string')).toHaveLength(1);
    const walked = await manifestEntries(root);
    expect(treeText(tree.texts)).toBe(walked.entries.map((entry) => `${encodeEntryLine(entry)}\n`).join(''));
    const path = join(root, '..', `${basename(root)}.manifest.gz`);
    const header = {
      snapshot: 's',
      created: new Date().toISOString(),
      recorded: 'backup',
      hashed: tree.hashed,
      reused: 0,
    } as const;
    try {
      await writeManifestTexts(path, header, tree.texts, tree.lineCounts);
      expect((await readManifestFile(path))!.entries).toEqual(walked.entries);
    } finally {
      await rm(path, { force: true });
    }
  });

  it('once past its threshold, records the directories done with before it too', async () => {
    await rm(root, { recursive: true });
    for (const dir of ['a', 'b', 'c', 'd', 'e']) await mkdir(join(root, dir), { recursive: true });
    const live = new LiveRecording(root, MIN, 2, 4);
    for (const dir of ['a', 'b', 'c']) await offerFile(live, `${dir}/f`, dir); // a is done, b too once d begins
    for (let i = 0; i < 5; i++) await offerFile(live, `d/f${i}`, `d${i}`); // past 4 files named: the workers start
    await offerFile(live, 'e/f', 'e'); // c is done: a, b and c go to the workers
    await live.settled();
    live.pullEnded();
    const tree = await recordTree(root, { live });
    expect(tree.live).toBe(3);
    const walked = await manifestEntries(root);
    expect(treeText(tree.texts)).toBe(walked.entries.map((entry) => `${encodeEntryLine(entry)}\n`).join(''));
  });

  it('starts no worker for a tree smaller than its threshold, and the tree is recorded all the same', async () => {
    const live = new LiveRecording(root, MIN, 2, 1000);
    for (let i = 0; i < 5; i++) await offerFile(live, `d/sub/x${i}`, 'x');
    live.pullEnded();
    const tree = await recordTree(root, { live });
    expect(tree.live).toBe(0);
    expect(tree.entries).toBe((await manifestEntries(root)).entries.length);
  });

  it('with no worker of its own started, the workers the rest of the tree needs are stopped once it is recorded', async () => {
    const threads = () => fs.readdirSync('/proc/self/task').length;
    const before = threads();
    const live = new LiveRecording(root, MIN, 2, 1000);
    for (let i = 0; i < 5; i++) await offerFile(live, `d/sub/x${i}`, 'x');
    live.pullEnded();
    // Nothing recorded in this thread: every directory goes to worker threads.
    const tree = await recordTree(root, { live, workers: 2, inThread: { entries: 0, bytes: 0 } });
    expect(tree.entries).toBe((await manifestEntries(root)).entries.length);
    expect(threads()).toBe(before);
  });

  it('lets go of its workers when the pull fails (closed, never checked)', async () => {
    const live = new LiveRecording(root, MIN, 2, 0);
    for (const dir of ['d', 'd/sub', 'x', 'y']) {
      await mkdir(join(root, dir), { recursive: true });
      await offerFile(live, `${dir}/f`, dir);
    }
    await live.close();
    live.offer('1 z/f'); // after the end: ignored
    expect((await live.check(root, null)).workers).toBeNull();
  });
});
