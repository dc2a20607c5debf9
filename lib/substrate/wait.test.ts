import { describe, expect, it } from '@jest/globals';
import { type ModelStatus, type UnitStatus } from './driver.js';
import { type WaitClock, summariseStatus, waitForStatus } from './wait.js';

/** A clock whose sleep only moves time forward, recording each pause. */
function fakeClock(): WaitClock & { sleeps: number[] } {
  let now = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: (ms) => {
      sleeps.push(ms);
      now += ms;
      return Promise.resolve();
    },
  };
}

function unit(name: string, workload: string, message = '', extra: Partial<UnitStatus> = {}): UnitStatus {
  return {
    name,
    app: name.split('/')[0] ?? '',
    workload,
    message,
    agent: 'idle',
    machine: '0',
    address: '10.0.0.1',
    leader: false,
    ...extra,
  };
}

function model(...units: UnitStatus[]): ModelStatus {
  return { model: 'm', applications: {}, units: Object.fromEntries(units.map((u) => [u.name, u])) };
}

/** Serves the given statuses in turn (the last one forever), counting reads. */
function reader(...statuses: ModelStatus[]): { read: () => Promise<ModelStatus>; reads: () => number } {
  let reads = 0;
  return {
    read: () => Promise.resolve(statuses[Math.min(reads++, statuses.length - 1)] ?? model()),
    reads: () => reads,
  };
}

const active = model(unit('api/0', 'active'));
const waiting = model(unit('api/0', 'waiting', 'for storage'));
const isActive = (s: ModelStatus) => s.units['api/0']?.workload === 'active';

describe('waitForStatus', () => {
  it('succeeds only after the predicate held `successes` polls in a row, polling every intervalMs', async () => {
    const clock = fakeClock();
    const { read, reads } = reader(waiting, active, active, active, waiting);
    const status = await waitForStatus(read, isActive, { intervalMs: 500 }, clock);
    expect(status).toBe(active);
    expect(reads()).toBe(4);
    expect(clock.sleeps).toEqual([500, 500, 500]);
  });

  it('starts counting again when the predicate stops holding', async () => {
    const clock = fakeClock();
    const { read, reads } = reader(active, waiting, active, active, waiting, active, active, active);
    await waitForStatus(read, isActive, {}, clock);
    expect(reads()).toBe(8);
    expect(clock.sleeps.every((ms) => ms === 1000)).toBe(true);
  });

  it('honours successes: 1', async () => {
    const { read, reads } = reader(waiting, active);
    await waitForStatus(read, isActive, { successes: 1 }, fakeClock());
    expect(reads()).toBe(2);
  });

  it('throws at once when a unit is in error, naming units and messages', async () => {
    const clock = fakeClock();
    const broken = model(
      unit('api/0', 'active'),
      unit('agent/1', 'error', 'hook failed: "install"', { principal: 'ubuntu/1' }),
      unit('agent/0', 'error', 'hook failed: "turku-api-relation-changed"', { principal: 'ubuntu/0' }),
    );
    const { read, reads } = reader(waiting, broken, active);
    await expect(waitForStatus(read, isActive, { what: 'the bundle' }, clock)).rejects.toThrow(
      'while waiting for the bundle: unit(s) in error: agent/0 (hook failed: "turku-api-relation-changed"), agent/1 (hook failed: "install")',
    );
    expect(reads()).toBe(2);
    // Even when the predicate would already be satisfied.
    await expect(waitForStatus(reader(broken).read, () => true, {}, clock)).rejects.toThrow('unit(s) in error');
  });

  it('times out with `what` and the last status, one unit per line', async () => {
    const clock = fakeClock();
    const last = model(
      unit('api/0', 'waiting', 'for storage'),
      unit('agent/0', 'blocked', 'no API', { agent: 'executing', principal: 'ubuntu/0' }),
    );
    const { read, reads } = reader(waiting, last);
    const error = await waitForStatus(
      read,
      isActive,
      { timeoutMs: 10_000, intervalMs: 2000, what: 'turku-api active' },
      clock,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      [
        'timed out after 10 s waiting for turku-api active; last status:',
        '  agent/0 (on ubuntu/0): blocked/executing "no API"',
        '  api/0: waiting/idle "for storage"',
      ].join('\n'),
    );
    expect(reads()).toBe(6);
    expect(clock.now()).toBe(10_000);
  });

  it('defaults to a 10-minute timeout', async () => {
    const clock = fakeClock();
    await expect(waitForStatus(reader(waiting).read, isActive, {}, clock)).rejects.toThrow(
      'timed out after 600 s waiting for the model to settle',
    );
    expect(clock.now()).toBe(600_000);
  });

  it('propagates a failing read', async () => {
    const read = () => Promise.reject(new Error('juju status -m m --format json: connection refused'));
    await expect(waitForStatus(read, isActive, {}, fakeClock())).rejects.toThrow('connection refused');
  });
});

describe('summariseStatus', () => {
  it('says when there are no units', () => {
    expect(summariseStatus(model())).toBe('  (no units)');
  });
});
