import { jest } from '@jest/globals';
import { readdir } from 'node:fs/promises';

import { captureLog, removeDir, tempDir } from './__tests__/fixtures.js';
import { DIAGNOSTIC_LINES, NOT_STARTED, OUTPUT_READ_INTERVAL_MS, runLogged, SAFE_PATH } from './process.js';

jest.setTimeout(30_000);

const env = { PATH: SAFE_PATH };
const node = process.execPath;

/** Runs with TMPDIR set to a fresh directory, so a test can see what was left in it. */
let tmp: string;
let savedTmpdir: string | undefined;
beforeEach(async () => {
  tmp = await tempDir('process-test');
  savedTmpdir = process.env.TMPDIR;
  process.env.TMPDIR = tmp;
});
afterEach(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await removeDir(tmp);
});

describe('runLogged: output to the log at DEBUG (docs/datapath.md, "Pulling with rsync")', () => {
  test('stdout and stderr lines in the order written, between Running and Return code', async () => {
    const log = captureLog();
    const result = await runLogged(['sh', '-c', 'echo one; echo two >&2; echo three; exit 3'], { env, log });
    expect(result).toEqual({ code: 3, stdout: '', diagnostics: ['one', 'two', 'three'] });
    expect(log.at('debug')).toEqual([
      `Running: sh -c 'echo one; echo two >&2; echo three; exit 3'`,
      'one',
      'two',
      'three',
      'Return code: 3',
    ]);
    expect(await readdir(tmp)).toEqual([]);
  });

  test('lines reach the log while the program still runs', async () => {
    const seen: { line: string; at: number }[] = [];
    const log = { ...captureLog(), debug: (line: string) => void seen.push({ line, at: Date.now() }) };
    await runLogged(['sh', '-c', 'echo early; sleep 1.5; echo late'], { env, log });
    const early = seen.find((entry) => entry.line === 'early');
    const late = seen.find((entry) => entry.line === 'late');
    expect(early && late).toBeTruthy();
    expect(late!.at - early!.at).toBeGreaterThan(1500 - 2 * OUTPUT_READ_INTERVAL_MS - 100);
  });

  test('every one of many lines, in order, across reads; a last line without a newline; CRLF', async () => {
    const log = captureLog();
    const script =
      'for (let i = 0; i < 100000; i++) process.stdout.write(`line ${i}\\n`);' +
      'process.stdout.write("crlf\\r\\nno newline")';
    await runLogged([node, '-e', script], { env, log });
    const lines = log.at('debug').slice(1, -1);
    expect(lines).toHaveLength(100_002);
    expect(lines.slice(0, 100_000).every((line, i) => line === `line ${i}`)).toBe(true);
    expect(lines.slice(-2)).toEqual(['crlf', 'no newline']);
  });

  test('a UTF-8 character split across two reads stays whole', async () => {
    // 'a' then 2-byte characters: the 256 KiB read boundary falls inside one of them.
    const log = captureLog();
    await runLogged([node, '-e', 'process.stdout.write("a" + "é".repeat(200000) + "\\n")'], { env, log });
    expect(log.at('debug')[1]).toBe(`a${'é'.repeat(200_000)}`);
  });

  test('captureStdout keeps stdout byte for byte (latin1) and logs only stderr', async () => {
    const log = captureLog();
    const result = await runLogged(['sh', '-c', `printf 'caf\\351\\nsecond\\n'; echo warning >&2`], {
      env,
      log,
      captureStdout: true,
      stdoutEncoding: 'latin1',
    });
    expect(result.code).toBe(0);
    expect(Buffer.from(result.stdout, 'latin1')).toEqual(Buffer.from('caf\xe9\nsecond\n', 'latin1'));
    expect(log.at('debug').slice(1)).toEqual(['warning', 'Return code: 0']);
    expect(await readdir(tmp)).toEqual([]);
  });

  test('a program that cannot start: 127, an error line, nothing left behind', async () => {
    const log = captureLog();
    const result = await runLogged(['/nonexistent/turku-program'], { env, log });
    expect(result.code).toBe(NOT_STARTED);
    expect(log.at('error')).toEqual([expect.stringMatching(/^Cannot run \/nonexistent\/turku-program: .*ENOENT/)]);
    expect(log.at('debug').at(-1)).toBe(`Return code: ${NOT_STARTED}`);
    expect(await readdir(tmp)).toEqual([]);
  });

  test('killed by a signal: minus the signal number', async () => {
    const log = captureLog();
    const result = await runLogged(['sh', '-c', 'echo before; kill -TERM $$'], { env, log });
    expect(result.code).toBe(-15);
    expect(log.at('debug')).toContain('before');
  });

  test('a background child that keeps the output open does not hold the run', async () => {
    const started = Date.now();
    const log = captureLog();
    const result = await runLogged(['sh', '-c', 'sleep 20 & echo done'], { env, log });
    expect(result.code).toBe(0);
    expect(log.at('debug')).toContain('done');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('diagnostics: the first and last lines that pass the test, whatever the output length', async () => {
    const log = captureLog();
    const script = 'for i in $(seq 1 5000); do echo "name $i"; [ $((i % 100)) -eq 0 ] && echo "err $i" >&2; done; true';
    const result = await runLogged(['sh', '-c', script], { env, log, isDiagnostic: (line) => line.startsWith('err') });
    const expected = Array.from({ length: 50 }, (_, i) => `err ${(i + 1) * 100}`);
    expect(result.diagnostics).toEqual([...expected.slice(0, DIAGNOSTIC_LINES), ...expected.slice(-DIAGNOSTIC_LINES)]);
  });
});
