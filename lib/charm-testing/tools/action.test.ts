import { addApplication, addTask, fixtureModel, toolSession } from '../fixtures.js';
import { runEvent } from '../session.js';

function actionWorld() {
  const model = fixtureModel();
  addApplication(model, 'api');
  const task = addTask(model, 'api/0', 'backup-now', { tag: 'x', retries: 3, nested: { deep: { on: true } } });
  const tools = toolSession(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
  return { model, task, ...tools };
}

describe('action tools', () => {
  test('[fidelity 17] all four outside an action: not running an action, exit 1', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { run } = toolSession(model, 'api/0', { kind: 'hook', name: 'install' });
    for (const [tool, args] of [
      ['action-get', []],
      ['action-set', ['a=b']],
      ['action-fail', ['x']],
      ['action-log', ['x']],
    ] as const) {
      expect(await run(tool, ...args)).toEqual({ code: 1, stdout: '', stderr: 'ERROR not running an action\n' });
    }
  });

  test('[fidelity 12] action-get: the params map, dotted keys, null for a missing key', async () => {
    const { run } = actionWorld();
    expect(JSON.parse((await run('action-get', '--format=json')).stdout)).toEqual({
      tag: 'x',
      retries: 3,
      nested: { deep: { on: true } },
    });
    expect((await run('action-get', '--format=json', 'nested.deep.on')).stdout).toBe('true\n');
    expect((await run('action-get', 'retries')).stdout).toBe('3\n');
    expect(await run('action-get', '--format=json', 'nope.deeper')).toEqual({ code: 0, stdout: 'null\n', stderr: '' });
  });

  test('[fidelity 18] action-set rejects invalid keys, reserved keys and missing =; exit 2', async () => {
    const { run } = actionWorld();
    expect(await run('action-set', 'Bad=1')).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'ERROR key "Bad" must start and end with lowercase alphanumeric, and contain only lowercase alphanumeric, hyphens and periods\n',
    });
    expect((await run('action-set', 'a.-b=1')).code).toBe(2);
    expect(await run('action-set', 'stdout=1')).toMatchObject({
      code: 2,
      stderr: 'ERROR cannot set reserved action key "stdout"\n',
    });
    expect((await run('action-set', 'stderr-encoding=1')).code).toBe(2);
    expect(await run('action-set', 'x')).toMatchObject({
      code: 2,
      stderr: 'ERROR argument "x" must be of the form key...=value\n',
    });
  });

  // Juju's action-set checks every dot-separated segment, shape then reserved name, before
  // setting anything (worker/uniter/runner/jujuc/action-set.go, Init).
  test.each([
    ['a.stdout=1', 'stdout'],
    ['result.stderr.x=1', 'stderr'],
    ['stdout-encoding.x=1', 'stdout-encoding'],
    ['log.stderr-encoding=1', 'stderr-encoding'],
  ])('[fidelity 18] action-set refuses a reserved name in any segment: %s', async (arg, key) => {
    const { model, task } = actionWorld();
    model.applications['api']!.executor = {
      kind: 'in-process',
      run: async (io) => (await io.runner.run('action-set', ['ok=1', arg])).code,
    };
    const outcome = await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(outcome.exitCode).toBe(2);
    // Nothing was set: the valid first argument neither.
    expect(task.results).toEqual({ 'return-code': 2 });
    const { run } = actionWorld();
    expect(await run('action-set', arg)).toEqual({
      code: 2,
      stdout: '',
      stderr: `ERROR cannot set reserved action key "${key}"\n`,
    });
  });

  test('[fidelity 18] a bad segment is reported before a reserved one that follows it', async () => {
    const { run } = actionWorld();
    expect((await run('action-set', 'Bad.stdout=1')).stderr).toMatch(/^ERROR key "Bad" must start/);
    expect((await run('action-set', 'stdout.Bad=1')).stderr).toBe('ERROR cannot set reserved action key "stdout"\n');
  });

  // The values travel in argv: the kernel refuses one string over 128 KiB (E2BIG), so the call
  // fails before the tool runs, as spawning the real action-set would.
  test('an argument over 128 KiB fails to spawn (E2BIG); exactly 128 KiB with its NUL is fine', async () => {
    const { run, session } = actionWorld();
    const fits = `k=${'x'.repeat(128 * 1024 - 3)}`;
    expect(await run('action-set', fits)).toEqual({ code: 0, stdout: '', stderr: '' });
    const refused = await run('action-set', `${fits}y`);
    expect(refused.code).toBe(127);
    expect(refused.stderr).toBe(
      'ERROR cannot run hook tool "action-set": spawnSync action-set E2BIG (argument 1 is 131073 bytes, over the kernel\'s 131072 (MAX_ARG_STRLEN))\n',
    );
    expect(session.env['JUJU_ACTION_NAME']).toBe('backup-now');
  });

  test('argv and environment over ARG_MAX (2 MiB) fail to spawn too', async () => {
    const { run } = actionWorld();
    const pairs = Array.from({ length: 20 }, (_, i) => `k${i}=${'x'.repeat(120_000)}`);
    const refused = await run('action-set', ...pairs);
    expect(refused).toMatchObject({ code: 127 });
    expect(refused.stderr).toMatch(/over the kernel's 2097152 \(ARG_MAX\)\)\n$/);
  });

  test('[fidelity 18] action-set values are strings and dotted keys nest', async () => {
    const { model, task } = actionWorld();
    model.applications['api']!.executor = {
      kind: 'in-process',
      run: async (io) => {
        const result = await io.runner.run('action-set', ['a.b.c=1', 'a.d=true', 'e=x=y']);
        return result.code;
      },
    };
    await runEvent(model, 'api/0', { kind: 'action', name: 'backup-now', taskId: task.id });
    expect(task.results).toEqual({ a: { b: { c: '1' }, d: 'true' }, e: 'x=y', 'return-code': 0 });
  });

  test('action-log appends to the task log immediately; no message exits 2', async () => {
    const { run, task } = actionWorld();
    await run('action-log', 'step', '1');
    expect(task.log).toEqual(['step 1']);
    expect(await run('action-log')).toMatchObject({ code: 2 });
  });
});
