import { jest } from '@jest/globals';
import {
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  rename,
  rm,
  symlink,
  utimes,
  writeFile,
  chmod,
  open,
} from 'node:fs/promises';
import { join } from 'node:path';

import fc from 'fast-check';

import { captureLog, descriptor, makeJob, removeDir, tempDir } from './__tests__/fixtures.js';
import { startRsyncDaemon, type RsyncDaemon } from './__tests__/rsync-daemon.js';
import { sharedWith, showPath, snapshotTree, type TreeSnapshot } from './__tests__/tree-snapshot.js';
import { pullOntoClone } from './link-clone.js';
import { pullSource, runRsync } from './rsync.js';
import { type SnapshotJob } from './types.js';

/**
 * Issue 17, item 14: the link-dest fast path (link-clone.ts) against rsync itself. For random
 * source trees and random changes, the snapshot the clone makes on a base must equal what
 * `rsync --link-dest=<base>` makes with the same flags from the same daemon (the fallback our
 * mode uses, and what an operator would compare with), and must share with the base exactly
 * the inodes rsync shares. Trees are small so that many cases run: the point is the variety of
 * names (spaces, newlines, leading dashes, backslashes, bytes that are not UTF-8), types and
 * type changes, modes, owners, mtimes, empty and sparse files and hard links.
 *
 * The seed is fixed (TURKU_PROPERTY_SEED overrides it, TURKU_PROPERTY_RUNS the count); on a
 * failure fast-check prints the seed, the path and the shrunk case.
 */

const RUNS = Number(process.env.TURKU_PROPERTY_RUNS ?? 300);
const SEED = Number(process.env.TURKU_PROPERTY_SEED ?? 1_710_017);

jest.setTimeout(600_000);

let root: string;
let source: string;
let daemon: RsyncDaemon;

beforeAll(async () => {
  root = await tempDir('link-clone-property');
  source = join(root, 'source');
  await mkdir(source);
  daemon = await startRsyncDaemon({ data: { path: source } });
});

afterAll(async () => {
  await daemon?.stop();
  if (root !== undefined) await removeDir(root);
});

// ---- the model: operations interpreted against whatever the tree holds ----------------------

type Content =
  | { readonly kind: 'bytes'; readonly data: Uint8Array }
  | { readonly kind: 'sparse'; readonly size: number; readonly at: number; readonly data: Uint8Array };

export type Op =
  | {
      readonly op: 'file';
      readonly dir: number;
      readonly name: Uint8Array;
      readonly content: Content;
      readonly mode: number;
      readonly mtime: number;
    }
  | {
      readonly op: 'dir';
      readonly dir: number;
      readonly name: Uint8Array;
      readonly mode: number;
      readonly mtime: number;
    }
  | { readonly op: 'symlink'; readonly dir: number; readonly name: Uint8Array; readonly target: Uint8Array }
  | { readonly op: 'hardlink'; readonly file: number; readonly dir: number; readonly name: Uint8Array }
  | { readonly op: 'rewrite'; readonly file: number; readonly content: Content }
  | { readonly op: 'chmod'; readonly entry: number; readonly mode: number }
  | { readonly op: 'touch'; readonly entry: number; readonly mtime: number }
  | { readonly op: 'chown'; readonly entry: number; readonly uid: number; readonly gid: number }
  | { readonly op: 'remove'; readonly entry: number }
  | { readonly op: 'retype'; readonly entry: number; readonly to: 'file' | 'dir' | 'symlink' }
  | { readonly op: 'rename'; readonly entry: number; readonly dir: number; readonly name: Uint8Array };

const TRICKY_NAMES = [
  'a',
  'b c',
  '-rf',
  '--delete',
  '-',
  ' lead',
  'trail ',
  'new\nline',
  'tab\there',
  'back\\slash',
  'x\\#012y',
  '\\#377',
  '*deleting  x',
  '>f+++++++++ y',
  '.hidden',
  '..dots',
  'a -> b',
  'caf\u00e9',
];

const nameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(...TRICKY_NAMES).map((name) => new Uint8Array(Buffer.from(name))),
  fc
    .uint8Array({ minLength: 1, maxLength: 4 })
    .map((bytes) => bytes.map((byte) => (byte === 0 || byte === 0x2f ? byte + 1 : byte)))
    .filter((bytes) => {
      const text = Buffer.from(bytes).toString('latin1');
      return text !== '.' && text !== '..';
    }),
);

const contentArb: fc.Arbitrary<Content> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 40 }).map((data) => ({ kind: 'bytes' as const, data })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bytes' as const, data: new Uint8Array(0) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('sparse' as const),
      size: fc.integer({ min: 1, max: 300_000 }),
      at: fc.integer({ min: 0, max: 299_000 }),
      data: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
  },
);

const fileMode = fc.constantFrom(0o644, 0o600, 0o755, 0o444, 0o640, 0o4755, 0o2711, 0o000);
const dirMode = fc.constantFrom(0o755, 0o700, 0o750, 0o555, 0o1777, 0o2755, 0o500);
/** Whole seconds, fractions and one far in the past; utimes takes seconds. */
const mtimeArb = fc.constantFrom(1_000_000_000, 1_000_000_000.5, 1_500_000_000, 1_700_000_000.25, 86_400);
const owner = fc.constantFrom(0, 1000, 4321, 65534);
const index = fc.nat({ max: 1000 });

const createOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('file' as const),
      dir: index,
      name: nameArb,
      content: contentArb,
      mode: fileMode,
      mtime: mtimeArb,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('dir' as const),
      dir: index,
      name: nameArb,
      mode: dirMode,
      mtime: mtimeArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('symlink' as const), dir: index, name: nameArb, target: nameArb }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('hardlink' as const), file: index, dir: index, name: nameArb }) },
);

const changeOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: createOp },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('rewrite' as const),
      file: index,
      content: contentArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('chmod' as const), entry: index, mode: fc.oneof(fileMode, dirMode) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('touch' as const), entry: index, mtime: mtimeArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('chown' as const), entry: index, uid: owner, gid: owner }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('remove' as const), entry: index }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('retype' as const),
      entry: index,
      to: fc.constantFrom('file' as const, 'dir' as const, 'symlink' as const),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rename' as const), entry: index, dir: index, name: nameArb }) },
);

/** Source excludes (rsync patterns); they may change between the base's run and this one. */
const EXCLUDES = ['a', '-rf', '.hidden', 'b*', '/b c', 'a/', '*/a'];
const excludeArb = fc.oneof(
  { weight: 3, arbitrary: fc.constant<string[]>([]) },
  { weight: 1, arbitrary: fc.subarray(EXCLUDES, { minLength: 1, maxLength: 2 }) },
);

const caseArb = fc.record({
  initial: fc.array(createOp, { minLength: 1, maxLength: 14 }),
  changes: fc.array(changeOp, { minLength: 1, maxLength: 8 }),
  excludes: fc.record({ then: excludeArb, now: excludeArb }),
});

interface Excludes {
  /** The base's run's. */
  readonly then: readonly string[];
  /** This run's. */
  readonly now: readonly string[];
}

interface Listing {
  /** Every entry below the root, as absolute byte paths, sorted. */
  readonly entries: Buffer[];
  readonly dirs: Buffer[];
  readonly files: Buffer[];
}

async function list(rootDir: string): Promise<Listing> {
  const entries: Buffer[] = [];
  const dirs: Buffer[] = [Buffer.from(rootDir)];
  const files: Buffer[] = [];
  const walk = async (dir: Buffer): Promise<void> => {
    for (const name of (await readdir(dir, { encoding: 'buffer' })).sort((a, b) => Buffer.compare(a, b))) {
      const path = Buffer.concat([dir, Buffer.from('/'), name]);
      const info = await lstat(path);
      entries.push(path);
      if (info.isDirectory()) {
        dirs.push(path);
        await walk(path);
      } else if (info.isFile()) {
        files.push(path);
      }
    }
  };
  await walk(Buffer.from(rootDir));
  return { entries, dirs, files };
}

const pick = <T>(items: readonly T[], at: number): T | undefined =>
  items.length === 0 ? undefined : items[at % items.length];
const child = (dir: Buffer, name: Uint8Array): Buffer => Buffer.concat([dir, Buffer.from('/'), Buffer.from(name)]);

async function exists(path: Buffer): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function writeContent(path: Buffer, content: Content): Promise<void> {
  if (content.kind === 'bytes') {
    await writeFile(path, content.data);
    return;
  }
  // A hole, then a few bytes (past the end extends the file), then the length.
  const handle = await open(path, 'w');
  try {
    await handle.write(content.data, 0, content.data.length, content.at);
    await handle.truncate(Math.max(content.size, 0));
  } finally {
    await handle.close();
  }
}

async function makeFile(path: Buffer, content: Content, mode: number, mtime: number): Promise<void> {
  await writeContent(path, content);
  await chmod(path, mode);
  await utimes(path, mtime, mtime);
}

/** Applies one operation; one that does not fit the tree (a name taken, nothing to pick) does nothing. */
async function apply(rootDir: string, op: Op): Promise<void> {
  const tree = await list(rootDir);
  switch (op.op) {
    case 'file':
    case 'dir':
    case 'symlink': {
      const path = child(pick(tree.dirs, op.dir)!, op.name);
      if (await exists(path)) return;
      if (op.op === 'file') await makeFile(path, op.content, op.mode, op.mtime);
      else if (op.op === 'dir') {
        await mkdir(path);
        await chmod(path, op.mode);
        await utimes(path, op.mtime, op.mtime);
      } else await symlink(Buffer.from(op.target), path);
      return;
    }
    case 'hardlink': {
      const file = pick(tree.files, op.file);
      const path = child(pick(tree.dirs, op.dir)!, op.name);
      if (file === undefined || (await exists(path))) return;
      await link(file, path);
      return;
    }
    case 'rewrite': {
      const file = pick(tree.files, op.file);
      if (file === undefined) return;
      await writeContent(file, op.content);
      return;
    }
    case 'chmod':
    case 'touch':
    case 'chown': {
      const path = pick([Buffer.from(rootDir), ...tree.entries], op.entry)!;
      const info = await lstat(path);
      if (op.op === 'chown') await lchown(path, op.uid, op.gid);
      else if (op.op === 'touch') await lutimes(path, op.mtime, op.mtime);
      else if (!info.isSymbolicLink()) await chmod(path, op.mode);
      return;
    }
    case 'remove': {
      const path = pick(tree.entries, op.entry);
      if (path !== undefined) await rm(path, { recursive: true, force: true });
      return;
    }
    case 'retype': {
      const path = pick(tree.entries, op.entry);
      if (path === undefined) return;
      await rm(path, { recursive: true, force: true });
      if (op.to === 'file') await makeFile(path, { kind: 'bytes', data: Buffer.from('retyped') }, 0o644, 1_600_000_000);
      else if (op.to === 'dir') {
        await mkdir(path);
        await writeFile(Buffer.concat([path, Buffer.from('/inside')]), 'in a new directory');
      } else await symlink('retyped-target', path);
      return;
    }
    case 'rename': {
      const from = pick(tree.entries, op.entry);
      const into = pick(tree.dirs, op.dir)!;
      if (from === undefined) return;
      const to = child(into, op.name);
      // Not into itself, not over something.
      if (into.equals(from) || into.subarray(0, from.length + 1).equals(Buffer.concat([from, Buffer.from('/')])))
        return;
      if (await exists(to)) return;
      await rename(from, to);
      return;
    }
  }
}

/**
 * Entries the operations just changed (directories, symlinks) get `time`, a second long past:
 * rsync compares times to the second, so an entry changed in the very second of a pull keeps
 * the pull's own time (in rsync's snapshot too), which no comparison could predict. Real
 * sources change earlier.
 */
async function settleTimes(rootDir: string, time: number): Promise<void> {
  const recent = Date.now() / 1000 - 3600;
  for (const path of [Buffer.from(rootDir), ...(await list(rootDir)).entries]) {
    if ((await lstat(path)).mtimeMs / 1000 > recent) await lutimes(path, time, time);
  }
}

// ---- comparing ------------------------------------------------------------------------------

/**
 * What differs between rsync's snapshot and the clone's. One difference is rsync's own and
 * allowed: rsync compares times to the second, so a directory whose time moved within the same
 * second, with nothing in it changed, is not itemized and keeps the base's time in the clone
 * (as it would in any rsync run into an existing tree), where `--link-dest` makes it afresh.
 */
function differences(expected: TreeSnapshot, actual: TreeSnapshot, base: TreeSnapshot): string[] {
  const problems: string[] = [];
  const keys = new Set([...Object.keys(expected.entries), ...Object.keys(actual.entries)]);
  for (const key of [...keys].sort()) {
    const want = expected.entries[key];
    let got = actual.entries[key];
    if (want === undefined) {
      problems.push(`${showPath(key)} should not be there`);
      continue;
    }
    if (got === undefined) {
      problems.push(`${showPath(key)} is missing`);
      continue;
    }
    const inBase = base.entries[key];
    if (
      want.type === 'dir' &&
      got.type === 'dir' &&
      inBase?.type === 'dir' &&
      got.mtimeNs === inBase.mtimeNs &&
      BigInt(want.mtimeNs) / 1_000_000_000n === BigInt(got.mtimeNs) / 1_000_000_000n
    ) {
      got = { ...got, mtimeNs: want.mtimeNs };
    }
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      problems.push(`${showPath(key)}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
    }
  }
  return problems;
}

let caseNumber = 0;

/** How many cases had each kind of thing in their changed source, printed at the end. */
const seen: Record<string, number> = {};
async function tally(rootDir: string): Promise<void> {
  const kinds = new Set<string>();
  for (const path of (await list(rootDir)).entries) {
    const name = path.subarray(path.lastIndexOf(0x2f) + 1);
    const info = await lstat(path);
    if (!Buffer.from(name.toString('utf8')).equals(name)) kinds.add('non-UTF-8 name');
    if (name.includes(0x0a)) kinds.add('newline in a name');
    if (name[0] === 0x2d) kinds.add('leading dash');
    if (name.includes(0x20)) kinds.add('space');
    if (info.isSymbolicLink()) kinds.add('symlink');
    if (info.isFile() && info.nlink > 1) kinds.add('hard link');
    if (info.isFile() && info.size === 0) kinds.add('empty file');
    if (info.isFile() && info.blocks * 512 < info.size) kinds.add('sparse file');
  }
  for (const kind of kinds) seen[kind] = (seen[kind] ?? 0) + 1;
}
const countCase = (kind: string) => (seen[kind] = (seen[kind] ?? 0) + 1);

/** One case: base from the initial tree, then rsync --link-dest and the clone on the changed one. */
async function check(
  initial: readonly Op[],
  changes: readonly Op[],
  excludes: Excludes = { then: [], now: [] },
): Promise<void> {
  const dir = join(root, `case-${++caseNumber}`);
  const [base, expected, working] = ['base', 'expected', 'working'].map((name) => join(dir, name)) as [
    string,
    string,
    string,
  ];
  await rm(source, { recursive: true, force: true });
  await mkdir(source);
  // The base and the working copy exist before their pulls, as in link-dest.ts; rsync makes the
  // reference's directory itself, so that its root gets the source's time to the nanosecond.
  await Promise.all([base, working].map((path) => mkdir(path, { recursive: true })));
  const log = captureLog();
  const job: SnapshotJob = makeJob(
    {
      machineDir: dir,
      varDir: join(root, 'var'),
      url: daemon.url('data'),
      password: daemon.password,
      log,
    },
    { descriptor: descriptor({ exclude: excludes.now }) },
  );
  try {
    for (const op of initial) await apply(source, op);
    await settleTimes(source, 1_600_000_000.5);
    // The base, as a first backup makes it: the same flags, but local (the daemon's extra
    // connection would only slow the test down; the pulls compared below go through it).
    const first = await runRsync({
      rsyncCommand: ['rsync'],
      url: source,
      password: '',
      destination: base,
      exclude: excludes.then,
      log,
    });
    if (!first.success) throw new Error(`the base pull failed with ${first.code}: ${JSON.stringify(log.lines)}`);
    for (const op of changes) await apply(source, op);
    await settleTimes(source, 1_650_000_000.75);
    await tally(source);
    if (excludes.then.length + excludes.now.length > 0) countCase('excludes');

    // Independent (both only read the base and the source): side by side, to keep the test short.
    const [reference, cloned] = await Promise.all([
      pullSource(job, { destination: expected, linkDest: base }),
      pullOntoClone(job, working, base),
    ]);
    if (!reference.success) throw new Error(`rsync --link-dest failed with ${reference.code}`);
    if (cloned.kind !== 'pulled') throw new Error(`the clone fell back: ${cloned.reason}`);
    if (!cloned.result.success)
      throw new Error(`the clone's pull failed with ${cloned.result.code}: ${JSON.stringify(log.lines)}`);

    const [baseTree, want, got] = await Promise.all([base, expected, working].map(snapshotTree));
    const problems = differences(want!, got!, baseTree!);
    const shared = { want: sharedWith(want!, baseTree!), got: sharedWith(got!, baseTree!) };
    if (JSON.stringify(shared.want) !== JSON.stringify(shared.got)) {
      problems.push(
        `shared with the base: rsync ${shared.want.map(showPath).join(', ')}; clone ${shared.got.map(showPath).join(', ')}`,
      );
    }
    if (problems.length > 0) {
      const commands = log.lines.map((line) => line.message).filter((line) => /^(Running|[<>ch.*][a-zLDS])/.test(line));
      throw new Error(
        `the clone differs from rsync --link-dest:\n  ${problems.join('\n  ')}\n` +
          `what ran, and the dry run's lines:\n  ${commands.join('\n  ')}`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// Minimal cases the property found, kept as regressions (each failed before its fix).
describe('regressions found by the property', () => {
  test('an entry excluded at the top of the tree stays out (rsync sent it back for the list\'s ".")', async () => {
    const file: Op = {
      op: 'file',
      dir: 0,
      name: Buffer.from('a'),
      content: { kind: 'bytes', data: Buffer.from('x') },
      mode: 0o644,
      mtime: 1e9,
    };
    const other: Op = { ...file, name: Buffer.from('b') };
    const touch: Op = { op: 'touch', entry: 2, mtime: 1_500_000_000 };
    // Newly excluded, in the base: deleted from the clone, then fetched again.
    await check([file], [{ op: 'chown', entry: 0, uid: 0, gid: 0 }], { then: [], now: ['a'] });
    // Excluded all along, never in the base: fetched into the snapshot when anything changed.
    await check([file, other], [touch], { then: ['a'], now: ['a'] });
  });

  test('a directory deleted with its contents (the pull failed with rsync code 23)', async () => {
    const dir: Op = { op: 'dir', dir: 0, name: Buffer.from('a'), mode: 0o755, mtime: 1e9 };
    const file: Op = {
      op: 'file',
      dir: 1,
      name: Buffer.from('f'),
      content: { kind: 'bytes', data: Buffer.alloc(0) },
      mode: 0o644,
      mtime: 1e9,
    };
    await check([dir, file], [{ op: 'remove', entry: 0 }]);
  });

  test('a change to the tree root alone (its time, mode or owner) reaches the snapshot', async () => {
    const file: Op = {
      op: 'file',
      dir: 0,
      name: Buffer.from('a'),
      content: { kind: 'bytes', data: Buffer.from('x') },
      mode: 0o644,
      mtime: 1e9,
    };
    await check([file], [{ op: 'touch', entry: 0, mtime: 1_000_000_000 }]);
    await check([file], [{ op: 'chmod', entry: 0, mode: 0o700 }]);
    await check([file], [{ op: 'chown', entry: 0, uid: 4321, gid: 4321 }]);
  });
});

test('a directory the clone changed in the source’s own second gets the source’s time to the nanosecond', async () => {
  // Not rsync's behaviour (it compares to the second, so its own snapshot keeps the time it made
  // the directory at): step 3 compares to the nanosecond, so the clone's removal does not stay.
  const dir = join(root, 'same-second');
  const [base, working] = [join(dir, 'base'), join(dir, 'working')];
  await rm(source, { recursive: true, force: true });
  await mkdir(join(source, 'sub'), { recursive: true });
  await writeFile(join(source, 'sub', 'file'), 'one');
  await utimes(join(source, 'sub', 'file'), 1e9, 1e9);
  await mkdir(working, { recursive: true });
  const log = captureLog();
  const job = makeJob({
    machineDir: dir,
    varDir: join(root, 'var'),
    url: daemon.url('data'),
    password: daemon.password,
    log,
  });
  try {
    expect(
      await runRsync({ rsyncCommand: ['rsync'], url: source, password: '', destination: base, log }),
    ).toMatchObject({ success: true });
    await writeFile(join(source, 'sub', 'file'), 'two'); // same size, new time; sub's time stays
    expect(await pullOntoClone(job, working, base)).toMatchObject({ kind: 'pulled', result: { success: true } });
    const [want, got] = await Promise.all([source, working].map((path) => lstat(join(path, 'sub'), { bigint: true })));
    expect(got!.mtimeNs).toBe(want!.mtimeNs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test(`item 14: the link-clone snapshot equals rsync --link-dest's and shares the same inodes with its base (${RUNS} cases)`, async () => {
  const started = Date.now();
  await fc.assert(
    fc.asyncProperty(caseArb, ({ initial, changes, excludes }) => check(initial, changes, excludes)),
    { numRuns: RUNS, seed: SEED, endOnFailure: process.env.TURKU_PROPERTY_SHRINK === undefined },
  );
  const kinds = Object.entries(seen).map(([kind, count]) => `${kind} ${count}`);
  // eslint-disable-next-line no-console -- the figure belongs in the test output (issue 17's closing note)
  console.log(
    `item 14: ${RUNS} cases (seed ${SEED}) in ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
      `cases whose changed tree had: ${kinds.join(', ')}`,
  );
});
