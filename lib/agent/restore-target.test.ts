import { afterAll, describe, expect, it } from '@jest/globals';
import {
  chmod,
  link,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { UserError } from '../common/errors.js';
import { BAD_TARGET_EXIT, planRestoreTarget, prepareRestoreTarget, STAGING_PREFIX } from './restore-target.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function scratch(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'turku-restore-target-'));
  dirs.push(dir);
  return dir;
}

async function refusal(promise: Promise<unknown>): Promise<UserError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  expect((error as UserError).exitCode).toBe(BAD_TARGET_EXIT);
  return error as UserError;
}

describe('planRestoreTarget', () => {
  it('takes a missing or empty directory, and anything with merge', async () => {
    const root = await scratch();
    await expect(planRestoreTarget(join(root, 'new', 'deeper'), false)).resolves.toEqual({
      path: join(root, 'new', 'deeper'),
      merge: false,
    });
    await mkdir(join(root, 'empty'));
    await expect(planRestoreTarget(join(root, 'empty'), false)).resolves.toMatchObject({ merge: false });
    await writeFile(join(root, 'empty', 'file'), 'x');
    await expect(planRestoreTarget(join(root, 'empty'), true)).resolves.toMatchObject({ merge: true });
  });

  it('makes a relative target absolute', async () => {
    expect((await planRestoreTarget('some/where', false)).path).toBe(join(process.cwd(), 'some/where'));
  });

  it('refuses a non-empty directory, naming it and the way out', async () => {
    const root = await scratch();
    await writeFile(join(root, 'file'), 'x');
    expect((await refusal(planRestoreTarget(root, false))).message).toBe(
      `Restore target ${root} is not empty; empty it, choose another, or merge into it (--restore-merge)`,
    );
  });

  it('refuses a symlink (even to an empty directory), a file, and a path through a file', async () => {
    const root = await scratch();
    await mkdir(join(root, 'empty'));
    await symlink('empty', join(root, 'link'));
    expect((await refusal(planRestoreTarget(join(root, 'link'), true))).message).toBe(
      `Restore target ${join(root, 'link')} is a symbolic link; give the directory itself`,
    );
    await writeFile(join(root, 'file'), 'x');
    expect((await refusal(planRestoreTarget(join(root, 'file'), true))).message).toBe(
      `Restore target ${join(root, 'file')} exists and is not a directory`,
    );
    expect((await refusal(planRestoreTarget(join(root, 'file', 'a', 'b'), false))).message).toBe(
      `Restore target ${join(root, 'file', 'a', 'b')} cannot be created: ${join(root, 'file')} is not a directory`,
    );
  });

  it('accepts a missing target under a symlinked directory (the operator’s layout)', async () => {
    const root = await scratch();
    await mkdir(join(root, 'real'));
    await symlink('real', join(root, 'alias'));
    await expect(planRestoreTarget(join(root, 'alias', 'new'), false)).resolves.toMatchObject({ merge: false });
  });
});

describe('prepareRestoreTarget', () => {
  it('stages inside the target; commit moves it in and the target keeps its mode', async () => {
    const root = await scratch();
    const target = join(root, 'target');
    await mkdir(target, { mode: 0o700 });
    await chmod(target, 0o700);
    const prepared = await prepareRestoreTarget(await planRestoreTarget(target, false));
    expect(prepared.staging.startsWith(join(target, STAGING_PREFIX))).toBe(true);
    expect((await stat(prepared.staging)).mode & 0o777).toBe(0o700);
    // What `rsync -a snapshot/ module/` does: the module root takes the snapshot root's mode.
    await chmod(prepared.staging, 0o755);
    await mkdir(join(prepared.staging, 'sub'));
    await writeFile(join(prepared.staging, 'sub', 'a'), 'A');
    await link(join(prepared.staging, 'sub', 'a'), join(prepared.staging, 'hard'));
    await prepared.commit();
    await prepared.discard(); // after a commit: nothing
    expect((await readdir(target)).sort()).toEqual(['hard', 'sub']);
    expect((await stat(target)).mode & 0o777).toBe(0o700);
    expect((await stat(join(target, 'hard'))).ino).toBe((await stat(join(target, 'sub', 'a'))).ino);
  });

  it('creates a missing target 0700; discard removes it and the parents it made, not the rest', async () => {
    const root = await scratch();
    const target = join(root, 'a', 'b', 'c');
    const prepared = await prepareRestoreTarget(await planRestoreTarget(target, false));
    expect((await stat(target)).mode & 0o777).toBe(0o700);
    await mkdir(join(prepared.staging, 'partial', 'tree'), { recursive: true });
    await writeFile(join(prepared.staging, 'partial', 'tree', 'f'), 'half');
    await prepared.discard();
    expect(await readdir(root)).toEqual([]);
  });

  it('discard leaves a target that existed, and what it held, exactly as it was', async () => {
    const root = await scratch();
    await writeFile(join(root, 'keep'), 'mine');
    const before = await lstat(root);
    const prepared = await prepareRestoreTarget(await planRestoreTarget(root, true));
    await writeFile(join(prepared.staging, 'keep'), 'theirs');
    await prepared.discard();
    expect(await readdir(root)).toEqual(['keep']);
    expect(await readFile(join(root, 'keep'), 'utf8')).toBe('mine');
    expect((await lstat(root)).mode).toBe(before.mode);
  });

  it('merge: staged entries win, other entries stay, a merged directory takes the snapshot’s attributes', async () => {
    const root = await scratch();
    const target = join(root, 'target');
    await mkdir(join(target, 'dir', 'deep'), { recursive: true });
    await writeFile(join(target, 'dir', 'own'), 'own');
    await writeFile(join(target, 'dir', 'over'), 'old');
    await mkdir(join(target, 'was-dir', 'inside'), { recursive: true });
    await writeFile(join(target, 'was-file'), 'old');
    const outside = join(root, 'outside');
    await mkdir(outside);
    await symlink(outside, join(target, 'was-link')); // a symlink in the target is replaced, never followed
    await chmod(target, 0o750);

    const prepared = await prepareRestoreTarget(await planRestoreTarget(target, true));
    const staging = prepared.staging;
    await mkdir(join(staging, 'dir', 'deep'), { recursive: true });
    await writeFile(join(staging, 'dir', 'over'), 'new');
    await writeFile(join(staging, 'dir', 'deep', 'x'), 'x');
    await chmod(join(staging, 'dir'), 0o711);
    await utimes(join(staging, 'dir'), 1_000_000, 1_000_000);
    await writeFile(join(staging, 'was-dir'), 'now a file');
    await mkdir(join(staging, 'was-file'));
    await mkdir(join(staging, 'was-link'));
    await writeFile(join(staging, 'was-link', 'in'), 'in');
    await prepared.commit();

    expect((await readdir(target)).sort()).toEqual(['dir', 'was-dir', 'was-file', 'was-link']);
    expect((await stat(target)).mode & 0o777).toBe(0o750);
    expect(await readFile(join(target, 'dir', 'own'), 'utf8')).toBe('own');
    expect(await readFile(join(target, 'dir', 'over'), 'utf8')).toBe('new');
    expect(await readFile(join(target, 'dir', 'deep', 'x'), 'utf8')).toBe('x');
    const dir = await stat(join(target, 'dir'));
    expect([dir.mode & 0o777, dir.mtimeMs]).toEqual([0o711, 1_000_000_000]);
    expect(await readFile(join(target, 'was-dir'), 'utf8')).toBe('now a file');
    expect((await lstat(join(target, 'was-file'))).isDirectory()).toBe(true);
    expect((await lstat(join(target, 'was-link'))).isDirectory()).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it('moves names that are not UTF-8, and symlinks as they are', async () => {
    const root = await scratch();
    const prepared = await prepareRestoreTarget(await planRestoreTarget(root, false));
    const odd = Buffer.concat([Buffer.from(`${prepared.staging}/`), Buffer.from([0x66, 0xff, 0x0a, 0x2d])]);
    await writeFile(odd, 'bytes');
    await symlink('/nowhere', join(prepared.staging, 'dangling'));
    await prepared.commit();
    const names = await readdir(root, { encoding: 'buffer' });
    expect(names.map((name) => name.toString('hex')).sort()).toEqual(
      [Buffer.from('dangling').toString('hex'), '66ff0a2d'].sort(),
    );
    expect(await readlink(join(root, 'dangling'))).toBe('/nowhere');
  });
});
