import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  backupSlotCount,
  INITIAL_SESSION_SECONDS,
  isBusy,
  MAX_RETRY_AFTER_SECONDS,
  retryAfter,
  SHORT_CAP_SECONDS,
  SLOTS_DIRECTORY,
  takeBackupSlot,
  type Busy,
  type HeldSlot,
} from './backup-slots.js';
import { holdLockOutside } from '../../tests/support/outside-lock.js';

let lockDir: string;
beforeEach(async () => {
  lockDir = await mkdtemp(join(tmpdir(), 'turku-slots-'));
});
afterEach(async () => {
  await rm(lockDir, { recursive: true, force: true });
});

const UUID = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

async function held(uuid: string, limit: number, now?: () => number): Promise<HeldSlot> {
  const answer = await takeBackupSlot(uuid, { lockDir, limit, ...(now === undefined ? {} : { now }) });
  if (isBusy(answer)) throw new Error(`expected a slot for ${uuid}, got busy`);
  return answer;
}

async function busy(uuid: string, limit: number, now?: () => number): Promise<Busy> {
  const answer = await takeBackupSlot(uuid, { lockDir, limit, ...(now === undefined ? {} : { now }) });
  if (!isBusy(answer)) throw new Error(`expected busy for ${uuid}, got slot ${answer.index}`);
  return answer;
}

test('the bound: the setting, else two per CPU and at least 2', () => {
  expect(backupSlotCount(7, 16)).toBe(7);
  expect(backupSlotCount(undefined, 4)).toBe(8);
  expect(backupSlotCount(undefined, 1)).toBe(2);
});

test('no more slots than the limit are held at once; a released one is taken again', async () => {
  const slots = [await held(UUID(1), 2), await held(UUID(2), 2)];
  expect(new Set(slots.map((slot) => slot.index))).toEqual(new Set([0, 1]));
  const refused = await busy(UUID(3), 2);
  expect(refused).toMatchObject({ running: 2, limit: 2 });
  await slots[0]!.release();
  const again = await held(UUID(3), 2);
  expect(again.index).toBe(slots[0]!.index);
  // The refused machine's waiting note goes once it has a slot.
  expect(await readdir(join(lockDir, SLOTS_DIRECTORY, 'waiting'))).toEqual([]);
  await Promise.all([again.release(), slots[1]!.release()]);
});

test('sessions starting together never share a slot', async () => {
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, n) => takeBackupSlot(UUID(n), { lockDir, limit: 3 })),
  );
  const slots = answers.filter((answer): answer is HeldSlot => !isBusy(answer));
  expect(slots).toHaveLength(3);
  expect(new Set(slots.map((slot) => slot.index)).size).toBe(3);
  await Promise.all(slots.map((slot) => slot.release()));
});

test('a slot whose holder was killed (SIGKILL) is free again: the kernel drops the lock', async () => {
  const dir = join(lockDir, SLOTS_DIRECTORY);
  await held(UUID(1), 1).then((slot) => slot.release());
  // Another process holds slot 0 the way turku-storage-ping does: an flock on the open file.
  const holder = await holdLockOutside(join(dir, 'slot-0.lock'));
  await busy(UUID(2), 1);
  await holder.kill();
  // Its file is still there, as after any killed session; the slot is free all the same.
  expect(await readdir(dir)).toContain('slot-0.lock');
  const slot = await held(UUID(2), 1);
  expect(slot.index).toBe(0);
  await slot.release();
});

describe('waiting on the storage', () => {
  const waitingOptions = (extra: { maxWaitSeconds?: number; onWait?: (seconds: number) => void } = {}) => ({
    lockDir,
    limit: 1,
    waiting: 1,
    ...extra,
  });

  test('a session in a waiting place takes the slot released meanwhile, within a poll or two', async () => {
    const first = await held(UUID(1), 1);
    const waits: number[] = [];
    const waiter = takeBackupSlot(UUID(2), waitingOptions({ onWait: (seconds) => waits.push(seconds) }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const released = Date.now();
    await first.release();
    const answer = await waiter;
    expect(isBusy(answer)).toBe(false);
    expect(Date.now() - released).toBeLessThan(1_000);
    // The longest wait follows the sessions' length: at least the short cap.
    expect(waits).toEqual([SHORT_CAP_SECONDS]);
    // Its place is free again for the next one.
    expect(await readdir(join(lockDir, SLOTS_DIRECTORY))).not.toContain('queue-0.lock');
    await (answer as HeldSlot).release();
  });

  test('with every waiting place taken, the next session is told to come back at once', async () => {
    const first = await held(UUID(1), 1);
    const waiter = takeBackupSlot(UUID(2), waitingOptions());
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    const refused = await takeBackupSlot(UUID(3), waitingOptions());
    expect(refused).toMatchObject({ running: 1, limit: 1 });
    expect(Date.now() - started).toBeLessThan(1_000);
    await first.release();
    await ((await waiter) as HeldSlot).release();
  });

  test('a wait that runs out ends in the busy answer', async () => {
    const first = await held(UUID(1), 1);
    const started = Date.now();
    const answer = await takeBackupSlot(UUID(2), waitingOptions({ maxWaitSeconds: 1 }));
    expect(isBusy(answer)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(Date.now() - started).toBeLessThan(3_000);
    await first.release();
  });

  test('a waiting session takes the slot of a holder killed with SIGKILL', async () => {
    const dir = join(lockDir, SLOTS_DIRECTORY);
    await held(UUID(1), 1).then((slot) => slot.release());
    const holder = await holdLockOutside(join(dir, 'slot-0.lock'));
    const waiter = takeBackupSlot(UUID(2), waitingOptions());
    await new Promise((resolve) => setTimeout(resolve, 300));
    await holder.kill();
    const killed = Date.now();
    const answer = await waiter;
    expect(isBusy(answer)).toBe(false);
    expect(Date.now() - killed).toBeLessThan(1_000);
    await (answer as HeldSlot).release();
  });
});

test('the earliest refused machines are told to come back first', async () => {
  let clock = 1_000_000;
  const now = () => clock;
  const slot = await held(UUID(0), 1, now);
  const first = await busy(UUID(1), 1, now);
  clock += 10;
  const second = await busy(UUID(2), 1, now);
  clock += 10;
  const third = await busy(UUID(3), 1, now);
  expect(first.retryAfterSeconds).toBe(retryAfter(0, 1, INITIAL_SESSION_SECONDS));
  expect(second.retryAfterSeconds).toBe(retryAfter(1, 1, INITIAL_SESSION_SECONDS));
  expect(third.retryAfterSeconds).toBe(retryAfter(2, 1, INITIAL_SESSION_SECONDS));
  // Coming back keeps its place: the first refused is still first.
  clock += 1000;
  expect((await busy(UUID(1), 1, now)).retryAfterSeconds).toBe(first.retryAfterSeconds);
  await slot.release();
});

test('waiting notes of machines that never came back are forgotten', async () => {
  let clock = 1_000_000;
  const now = () => clock;
  const slot = await held(UUID(0), 1, now);
  await busy(UUID(1), 1, now);
  clock += 3600_000;
  expect((await busy(UUID(2), 1, now)).retryAfterSeconds).toBe(retryAfter(0, 1, INITIAL_SESSION_SECONDS));
  expect(await readdir(join(lockDir, SLOTS_DIRECTORY, 'waiting'))).toEqual([UUID(2)]);
  await slot.release();
});

test('the suggested wait follows the length of recent sessions', async () => {
  let clock = 0;
  const now = () => clock;
  for (let i = 0; i < 10; i++) {
    const slot = await held(UUID(i), 1, now);
    clock += 30_000;
    await slot.release();
  }
  const average = Number(await readFile(join(lockDir, SLOTS_DIRECTORY, 'session-seconds'), 'utf8'));
  expect(average).toBeGreaterThan(25);
  expect(average).toBeLessThanOrEqual(30);
  const slot = await held(UUID(20), 1, now);
  expect((await busy(UUID(21), 1, now)).retryAfterSeconds).toBe(Math.ceil(average));
  await slot.release();
});

test('retryAfter: one wave of sessions per `limit` machines ahead, within bounds', () => {
  expect(retryAfter(0, 4, 2)).toBe(2);
  expect(retryAfter(3, 4, 2)).toBe(2);
  expect(retryAfter(4, 4, 2)).toBe(4);
  expect(retryAfter(0, 4, 0.1)).toBe(1);
  // A long queue of short sessions: come back within the short cap, and be ranked again then.
  expect(retryAfter(95, 4, 2.5)).toBe(SHORT_CAP_SECONDS);
  expect(retryAfter(95, 4, 9)).toBe(SHORT_CAP_SECONDS);
  // Long sessions: up to three of them.
  expect(retryAfter(95, 4, 100)).toBe(300);
  expect(retryAfter(1000, 1, 3600)).toBe(MAX_RETRY_AFTER_SECONDS);
});
