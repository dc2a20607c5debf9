import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

import { dieWithParent } from './die-with-parent.js';

describe('helpers that die with the agent', () => {
  it('wraps a program that can be found in setpriv --pdeathsig KILL, and leaves a missing one alone', () => {
    expect(dieWithParent(['sleep', '1'])).toEqual([
      expect.stringMatching(/\/setpriv$/),
      '--pdeathsig',
      'KILL',
      '--',
      'sleep',
      '1',
    ]);
    expect(dieWithParent(['/nonexistent/rsync', '--daemon'])).toEqual(['/nonexistent/rsync', '--daemon']);
    expect(dieWithParent(['no-such-program-here'])).toEqual(['no-such-program-here']);
  });

  it('a wrapped child is killed when its parent is, even by SIGKILL', async () => {
    // A parent that starts a wrapped `sleep` in its own process group (as the agent starts its
    // daemon), prints its pid and waits; then the parent gets SIGKILL.
    const argv = JSON.stringify(dieWithParent(['sleep', '300']));
    const script =
      `const a = ${argv}; const c = require('node:child_process').spawn(a[0], a.slice(1), ` +
      `{ detached: true, stdio: 'ignore' }); console.log(c.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const childPid = await new Promise<number>((resolve) =>
      parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString()))),
    );
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while (alive(childPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(alive(childPid)).toBe(false);
    // A busy machine (CI beside benchmarks) can take seconds to start the parent Node.
  }, 30_000);
});

/** Running (a zombie waiting for its reaper does not count). */
function alive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}
