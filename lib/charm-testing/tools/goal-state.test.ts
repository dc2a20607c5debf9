import { addApplication, fixtureModel, relate, toolSession } from '../fixtures.js';

describe('goal-state', () => {
  test('units of the application and related units, dying units shown as dying', async () => {
    const model = fixtureModel();
    addApplication(model, 'api', { units: 2, endpoints: { registration: 'provides' } });
    addApplication(model, 'agent', { units: 1, endpoints: { registration: 'requires' } });
    relate(model, 'api:registration', 'agent:registration');
    model.units['api/1']!.life = 'dying';
    model.units['agent/0']!.workloadStatus.status = 'active';
    const { run } = toolSession(model, 'api/0');
    const since = '2026-01-01T00:00:00.000Z';
    expect(JSON.parse((await run('goal-state', '--format=json')).stdout)).toEqual({
      units: { 'api/0': { status: 'unknown', since }, 'api/1': { status: 'dying', since } },
      relations: { registration: { agent: { status: 'joined', since }, 'agent/0': { status: 'active', since } } },
    });
    expect((await run('goal-state')).stdout).toMatch(/^relations:\n/);
    expect((await run('goal-state', '--format=smart')).code).toBe(2);
  });
});
