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
