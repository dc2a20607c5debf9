import { HookToolError } from './errors.js';
import { createExecRunner } from './exec-runner.js';

describe('createExecRunner', () => {
  test('runs without a shell: arguments arrive verbatim, stdout/stderr/exit code captured', async () => {
    const runner = createExecRunner();
    const result = await runner.run('node', [
      '-e',
      'process.stdout.write(JSON.stringify(process.argv.slice(1))); process.stderr.write("ERROR x\\n"); process.exit(3)',
      '$HOME',
      'a b;c',
    ]);
    expect(result).toEqual({ code: 3, stdout: '["$HOME","a b;c"]', stderr: 'ERROR x\n' });
  });

  test('stdin is sent whole when given', async () => {
    const stdin = JSON.stringify({ key: 'x'.repeat(200_000) });
    const result = await createExecRunner().run(
      'node',
      ['-e', 'let n=0; process.stdin.on("data", c => n += c.length).on("end", () => process.stdout.write(String(n)))'],
      stdin,
    );
    expect(result).toEqual({ code: 0, stdout: String(stdin.length), stderr: '' });
  });

  // The kernel rule the runtime's ArgvLimitError and the fake's exec-limits.ts stand for: one
  // argv string over 128 KiB, its NUL included, and the program never starts (E2BIG).
  test('Linux refuses an argument over 128 KiB (MAX_ARG_STRLEN) with E2BIG; 128 KiB with the NUL runs', async () => {
    const runner = createExecRunner();
    const fits = await runner.run('node', [
      '-e',
      'process.stdout.write(String(process.argv[1].length))',
      'x'.repeat(131_071),
    ]);
    expect(fits).toEqual({ code: 0, stdout: '131071', stderr: '' });
    const refused = runner.run('node', ['-e', '0', 'x'.repeat(131_072)]);
    await expect(refused).rejects.toBeInstanceOf(HookToolError);
    await expect(refused).rejects.toThrow(/E2BIG/);
  });

  test('a missing tool binary is a HookToolError that says why', async () => {
    const failure = createExecRunner({ PATH: '/nonexistent' }).run('relation-get', ['--format=json']);
    await expect(failure).rejects.toBeInstanceOf(HookToolError);
    await expect(failure).rejects.toThrow(/hook tool "relation-get" not found on PATH/);
  });
});
