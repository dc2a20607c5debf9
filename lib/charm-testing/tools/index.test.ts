import { addApplication, fixtureModel, toolSession } from '../fixtures.js';
import { HOOK_TOOL_NAMES } from './index.js';

describe('tool dispatch', () => {
  test('HOOK_TOOL_NAMES lists every implemented tool, sorted', () => {
    expect(HOOK_TOOL_NAMES).toEqual([...HOOK_TOOL_NAMES].sort());
    for (const name of ['relation-get', 'config-get', 'secret-add', 'storage-add', 'goal-state', 'network-get']) {
      expect(HOOK_TOOL_NAMES).toContain(name);
    }
  });

  test('every listed tool answers --help with exit 0', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { run } = toolSession(model, 'api/0');
    for (const name of HOOK_TOOL_NAMES) expect((await run(name, '--help')).code).toBe(0);
  });

  test('an unknown tool fails like a missing executable', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    expect((await toolSession(model, 'api/0').run('pod-spec-set')).code).toBe(127);
  });
});
