import { busyRetryState, jittered, retryDecision, rotatingPortChooser } from './busy-retry.js';

const ended = { exitCode: 75, stderr: 'storage busy\n', stopped: false };
const dropped = {
  exitCode: 255,
  stderr: 'kex_exchange_identification: read: Connection reset by peer\n',
  stopped: false,
};

test('a busy answer is retried after the suggested wait, within 75-125 %', () => {
  const state = busyRetryState(600, 0);
  const busy = { version: 1, retry_after: 8, running: 4, limit: 4 };
  expect(retryDecision(state, ended, busy, { now: 0, random: () => 0 })?.waitSeconds).toBe(6);
  expect(retryDecision(state, ended, busy, { now: 0, random: () => 500 })?.waitSeconds).toBe(10);
  expect(retryDecision(state, ended, busy, { now: 0 })?.reason).toBe('busy (4 backups running)');
  expect(jittered(0, () => 0)).toBe(0.075);
});

test('no retry past the run deadline, after an interrupt, or for a session that ended otherwise', () => {
  const state = busyRetryState(9, 0);
  const busy = { version: 1, retry_after: 8 };
  expect(retryDecision(state, ended, busy, { now: 0, random: () => 500 })).toBeUndefined();
  expect(retryDecision(state, ended, busy, { now: 0, random: () => 0 })).toBeDefined();
  expect(retryDecision(state, { ...ended, stopped: true }, busy, { now: 0 })).toBeUndefined();
  expect(retryDecision(state, ended, undefined, { now: 0 })).toBeUndefined();
  expect(retryDecision(busyRetryState(0, 0), ended, busy, { now: 0 })).toBeUndefined();
  const refused = { exitCode: 255, stderr: 'ssh: connect to host x port 22: Connection refused\n', stopped: false };
  expect(retryDecision(state, refused, undefined, { now: 0 })).toBeUndefined();
});

test('a connection sshd dropped before the key exchange is retried a few times', () => {
  const state = busyRetryState(600, 0);
  const decisions = Array.from({ length: 7 }, () => retryDecision(state, dropped, undefined, { now: 0 }));
  expect(decisions.filter((decision) => decision !== undefined)).toHaveLength(5);
  expect(decisions[0]?.reason).toBe('dropped the connection');
});

test('sessions opened again take the ports of the allowance in turn, never the same twice running', () => {
  const log = { debug: () => undefined };
  const choose = rotatingPortChooser(
    { name: 's', tunnel_ports: [50001, 50002, 50003] },
    { min: 60000, max: 60009 },
    log,
  );
  const ports = Array.from({ length: 9 }, () => choose());
  expect(new Set(ports.slice(0, 3))).toEqual(new Set([50001, 50002, 50003]));
  expect(ports.slice(3)).toEqual([...ports.slice(0, 3), ...ports.slice(0, 3)]);
  const fromRange = rotatingPortChooser({ name: 's' }, { min: 60000, max: 60009 }, log)();
  expect(fromRange).toBeGreaterThanOrEqual(60000);
  expect(fromRange).toBeLessThanOrEqual(60009);
});
