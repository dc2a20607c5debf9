import { jest } from '@jest/globals';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describeExit, lastLine, runProcess, startProblem } from './process.js';

jest.setTimeout(30_000);

describe('runProcess', () => {
  test('exit status and output as written, stdin on the null device by default', async () => {
    const result = await runProcess(['sh', '-c', 'cat; echo out; echo err >&2; exit 3']);
    expect(result).toEqual({ exitCode: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
  });

  test('input is written to stdin, then end-of-file', async () => {
    expect((await runProcess(['cat'], { input: 'in\n' })).stdout).toBe('in\n');
  });

  test('a program that cannot start is a result, not a throw', async () => {
    const result = await runProcess(['/nonexistent/turku-program']);
    expect(result).toMatchObject({ exitCode: null, signal: null });
    expect(startProblem(result.startError)).toBe('not found');
  });

  test('a signal and a timeout', async () => {
    const killed = await runProcess(['sh', '-c', 'kill -TERM $$']);
    expect([killed.exitCode, killed.signal, describeExit(killed)]).toEqual([null, 'SIGTERM', 'signal SIGTERM']);
    const started = Date.now();
    const slow = await runProcess(['sleep', '30'], { timeoutMs: 200 });
    expect([slow.signal, slow.timedOut]).toEqual(['SIGKILL', true]);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('env added to ours, or replacing it', async () => {
    const script = 'echo "$TURKU_TEST_VALUE ${HOME:-no home}"';
    expect((await runProcess(['/bin/sh', '-c', script], { env: { TURKU_TEST_VALUE: 'v' } })).stdout).toMatch(/^v \//);
    const alone = await runProcess(['/bin/sh', '-c', script], { env: { TURKU_TEST_VALUE: 'v' }, replaceEnv: true });
    expect(alone.stdout).toBe('v no home\n');
  });

  test('output to a file descriptor, not waiting for a grandchild that keeps it open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'turku-process-test-'));
    const file = await open(join(dir, 'output'), 'wx+', 0o600);
    try {
      const started = Date.now();
      const result = await runProcess(['sh', '-c', 'echo one; echo two >&2; sleep 20 & echo done'], {
        stdout: file.fd,
        stderr: file.fd,
      });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect([result.exitCode, result.stdout]).toEqual([0, '']);
      expect(await readFile(join(dir, 'output'), 'utf8')).toBe('one\ntwo\ndone\n');
    } finally {
      await file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('lastLine', () => {
    expect(lastLine('first\n  last  \n\n')).toBe('last');
    expect(lastLine('')).toBe('');
  });
});
