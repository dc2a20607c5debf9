import { afterAll, expect, it } from '@jest/globals';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

import { memoryLog, removeTempDirs, tempDir } from './__tests__/helpers.js';
import { STAGING_PREFIX, sweepUnfinishedRestores, unfinishedRestoreTargets } from './restore-leftovers.js';
import { planRestoreTarget } from './restore-target.js';

/**
 * A restore killed with SIGKILL (a real process, so none of its clean-up runs): the next start
 * removes its staging directory and the directories it created, and its staging entry alone
 * does not make the target look non-empty. `npm test` builds first.
 */

const RESTORE_TARGET_JS = fileURLToPath(new URL('../../dist/lib/agent/restore-target.js', import.meta.url));

afterAll(removeTempDirs);

/** Prepares a restore into `target` in a child process, stages a file, then is killed -9. */
async function restoreKilledHalfWay(varDir: string, target: string): Promise<void> {
  const script = `
    const m = await import(${JSON.stringify(RESTORE_TARGET_JS)});
    const fs = await import('node:fs/promises');
    const prepared = await m.prepareRestoreTarget(await m.planRestoreTarget(process.argv[1], false), process.argv[2]);
    await fs.writeFile(prepared.staging + '/half-pushed', 'x');
    process.stdout.write('staged\\n');
    setInterval(() => undefined, 1000);`;
  const child = execa(process.execPath, ['--input-type=module', '-e', script, target, varDir], { reject: false });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => (String(chunk).includes('staged') ? resolve() : undefined));
    void child.then((result) => reject(new Error(`the restore ended before it staged: ${result.stderr}`)));
  });
  child.kill('SIGKILL');
  await child;
}

it('a killed restore into an existing empty target: the target counts as empty and is emptied at the next start', async () => {
  const root = await tempDir();
  const varDir = join(root, 'var');
  const target = join(root, 'target');
  await mkdir(target);
  await restoreKilledHalfWay(varDir, target);
  const [staging] = await readdir(target);
  expect(staging?.startsWith(STAGING_PREFIX)).toBe(true);

  // Before the sweep (the target is checked before the lock): not refused as non-empty.
  const unfinished = await unfinishedRestoreTargets(varDir);
  await expect(planRestoreTarget(target, false, unfinished)).resolves.toMatchObject({ path: target });
  // Without the record it would be.
  await expect(planRestoreTarget(target, false)).rejects.toThrow('is not empty');

  const log = memoryLog();
  expect(await sweepUnfinishedRestores(varDir, log)).toBe(1);
  expect(await readdir(target)).toEqual([]);
  expect(log.lines.join('\n')).toContain(`Removed what an interrupted restore left in ${target}`);
  expect((await readdir(join(varDir, 'sessions'))).filter((name) => name.startsWith('restore-'))).toEqual([]);
  expect(await sweepUnfinishedRestores(varDir, log)).toBe(0);
});

it('a killed restore into a new target: the directories it created go, what was there stays', async () => {
  const root = await tempDir();
  const varDir = join(root, 'var');
  await mkdir(join(root, 'srv'));
  await writeFile(join(root, 'srv', 'keep'), 'mine');
  const target = join(root, 'srv', 'new', 'deeper');
  await restoreKilledHalfWay(varDir, target);
  expect(await sweepUnfinishedRestores(varDir, memoryLog())).toBe(1);
  expect(await readdir(join(root, 'srv'))).toEqual(['keep']);
});

it('a staging-like entry no record names still makes the target non-empty', async () => {
  const root = await tempDir();
  const target = join(root, 'target');
  await mkdir(join(target, `${STAGING_PREFIX}abcdef`), { recursive: true });
  await expect(planRestoreTarget(target, false, await unfinishedRestoreTargets(join(root, 'var')))).rejects.toThrow(
    'is not empty',
  );
});
