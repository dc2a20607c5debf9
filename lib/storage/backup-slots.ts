import { randomInt } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { writeFileAtomic } from '../common/atomic-write.js';
import { isErrno } from '../common/errors.js';
import { tryLock, type Lock } from '../common/lock.js';

/**
 * The storage's bound on concurrent backups (docs/datapath.md, "A busy storage"): a check-in
 * session pulls only while it holds one of `max_concurrent_backups` slots, each an advisory lock
 * `<lock_dir>/turku-storage-backup-slots/slot-<i>.lock` (lib/common/lock.ts). The kernel drops
 * such a lock when its process dies, even by SIGKILL, so a killed session never keeps its slot.
 *
 * A session that finds every slot taken may wait on the storage for one, if one of
 * `max_waiting_backups` waiting places (advisory locks `queue-<j>.lock` beside the slots) is free:
 * it looks for a slot whose file is gone (released) or whose holder is dead every
 * {@link WAIT_POLL_MS}, so a slot freed is taken again within that, while the agents told to come
 * back are still away. The places are few since each waiting session is a Node process of tens of
 * MB; a session that finds none, or waits longer than a few sessions' length, is told when to come
 * back. Each refused machine leaves a note in
 * `waiting/<uuid>` (when it was first and last refused), so the storage can tell the earliest
 * refused to come back first: a machine with `k` waiters refused before it is asked to wait about
 * `floor(k / slots) + 1` session lengths (at most 3, or 30 s), the length being an average of
 * recent sessions kept in `session-seconds`. The notes are hints: a lost or stale one only shifts
 * a suggestion.
 */

export const SLOTS_DIRECTORY = 'turku-storage-backup-slots';

/** Before any session has ended: short, since a suggestion too long leaves slots idle. */
export const INITIAL_SESSION_SECONDS = 2;
export const MIN_RETRY_AFTER_SECONDS = 1;
export const MAX_RETRY_AFTER_SECONDS = 600;
/** A suggestion is at most this many sessions' length, or this many seconds if that is more. */
const CAP_SESSIONS = 3;
export const SHORT_CAP_SECONDS = 30;
/** Weight of the newest session in the running average. */
const AVERAGE_WEIGHT = 0.3;
/** How often a waiting session looks for a free slot, and how many looks between full sweeps. */
export const WAIT_POLL_MS = 100;
const FULL_SWEEP_EVERY = 50;
/** A note whose machine has not come back in twice its suggested wait plus this is forgotten. */
const STALE_NOTE_GRACE_SECONDS = 60;

/** The bound: the setting, else two per CPU (at least 2). */
export function backupSlotCount(configured: number | undefined, cpus = availableParallelism()): number {
  return configured ?? Math.max(2, 2 * cpus);
}

export interface HeldSlot {
  readonly index: number;
  /** Frees the slot and records how long it was held. */
  release(): Promise<void>;
}

export interface Busy {
  readonly running: number;
  readonly limit: number;
  readonly retryAfterSeconds: number;
}

export interface SlotOptions {
  /** `<lock_dir>`; the slots live in a directory of their own inside it. */
  readonly lockDir: string;
  readonly limit: number;
  /** Sessions that may wait on the storage for a slot; 0 or unset: none, refuse at once. */
  readonly waiting?: number;
  /** Told when a session starts waiting for a slot, and how long it may (whole seconds). */
  readonly onWait?: (seconds: number) => void;
  /** The longest wait; unset: {@link longestWait} of the recent sessions' length. */
  readonly maxWaitSeconds?: number;
  readonly now?: () => number;
}

/**
 * A free slot, taken at once or after a wait in one of the waiting places; or when to come back.
 * The machine's waiting note goes when it gets one.
 */
export async function takeBackupSlot(uuid: string, options: SlotOptions): Promise<HeldSlot | Busy> {
  const dir = join(options.lockDir, SLOTS_DIRECTORY);
  const now = options.now ?? Date.now;
  await mkdir(join(dir, 'waiting'), { recursive: true, mode: 0o755 });
  const taken = (await takeFreeSlot(dir, await tryOrder(dir, options.limit), now)) ?? (await waitForSlot(dir, options));
  if (taken === undefined) return refuse(dir, uuid, options.limit, now());
  await rm(join(dir, 'waiting', uuid), { force: true });
  return taken;
}

async function takeFreeSlot(dir: string, order: readonly number[], now: () => number): Promise<HeldSlot | undefined> {
  const taken = await firstLock(dir, 'slot', order);
  return taken === undefined ? undefined : heldSlot(dir, taken.index, taken.lock, now);
}

/** A slot taken in a waiting place, or undefined when there is no place or the wait ran out. */
async function waitForSlot(dir: string, options: SlotOptions): Promise<HeldSlot | undefined> {
  const now = options.now ?? Date.now;
  const place = (await firstLock(dir, 'queue', await likelyFree(dir, 'queue', options.waiting ?? 0)))?.lock;
  if (place === undefined) return undefined;
  try {
    const seconds = Math.ceil(options.maxWaitSeconds ?? longestWait(await readSessionSeconds(dir)));
    options.onWait?.(seconds);
    const started = Date.now();
    for (let sweep = 1; Date.now() - started < seconds * 1000; sweep++) {
      await delay(WAIT_POLL_MS);
      // Now and then every slot, in case a reused PID makes a killed session's file look held.
      const order =
        sweep % FULL_SWEEP_EVERY === 0
          ? await tryOrder(dir, options.limit)
          : await likelyFree(dir, 'slot', options.limit);
      const slot = await takeFreeSlot(dir, order, now);
      if (slot !== undefined) return slot;
    }
    return undefined;
  } finally {
    await place.release();
  }
}

/** The first of `<prefix>-<i>.lock`, in `order`, whose lock is free, taken. */
async function firstLock(
  dir: string,
  prefix: string,
  order: readonly number[],
): Promise<{ index: number; lock: Lock } | undefined> {
  for (const index of order) {
    const lock = await tryLock(dir, `${prefix}-${index}`);
    if (lock !== undefined) return { index, lock };
  }
  return undefined;
}

/**
 * Of `<prefix>-<i>.lock` for i below `count`, in random order, those that look free without
 * trying their lock (each try runs flock(1)): the file is gone, as a release removes it, or the
 * PID its holder wrote is not alive (a killed session's).
 */
async function likelyFree(dir: string, prefix: string, count: number): Promise<number[]> {
  const free: number[] = [];
  for (let index = 0; index < count; index++) {
    const text = await readFile(join(dir, `${prefix}-${index}.lock`), 'utf8').catch((error: unknown) =>
      isErrno(error, 'ENOENT') ? undefined : '',
    );
    if (text === undefined || !pidAlive(Number.parseInt(text.trim(), 10))) free.push(index);
  }
  return shuffled(free);
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM');
  }
}

/** The longest a session waits for a slot: as long as the longest suggested come-back. */
export function longestWait(sessionSeconds: number): number {
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(SHORT_CAP_SECONDS, CAP_SESSIONS * sessionSeconds));
}

export function isBusy(answer: HeldSlot | Busy): answer is Busy {
  return 'retryAfterSeconds' in answer;
}

/**
 * Slot numbers to try: those without a file first (free, since a release removes it), in random
 * order so that sessions starting together do not all race for the same one; then the others,
 * which are held or were left by a killed session.
 */
async function tryOrder(dir: string, limit: number): Promise<number[]> {
  const present = new Set(
    (await readdir(dir)).flatMap((entry) => {
      const match = /^slot-(\d+)\.lock$/.exec(entry);
      return match === null ? [] : [Number(match[1])];
    }),
  );
  const all = shuffled(Array.from({ length: limit }, (_, index) => index));
  return [...all.filter((index) => !present.has(index)), ...all.filter((index) => present.has(index))];
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function heldSlot(dir: string, index: number, lock: Lock, now: () => number): HeldSlot {
  const start = now();
  let released: Promise<void> | undefined;
  return {
    index,
    release: () =>
      (released ??= (async () => {
        // The average first: once the lock is gone, the next session may read it.
        await recordSessionLength(dir, (now() - start) / 1000).catch(() => undefined);
        await lock.release();
      })()),
  };
}

async function readSessionSeconds(dir: string): Promise<number> {
  const text = await readFile(join(dir, 'session-seconds'), 'utf8').catch(() => '');
  const value = Number.parseFloat(text);
  return Number.isFinite(value) && value > 0 ? value : INITIAL_SESSION_SECONDS;
}

async function recordSessionLength(dir: string, seconds: number): Promise<void> {
  const previous = await readSessionSeconds(dir);
  const average = previous * (1 - AVERAGE_WEIGHT) + seconds * AVERAGE_WEIGHT;
  await writeFileAtomic(join(dir, 'session-seconds'), `${average.toFixed(3)}\n`);
}

/** A waiting note: when the machine was first refused, last refused, and the wait suggested then. */
interface WaitingNote {
  readonly first: number;
  readonly last: number;
  readonly retryAfter: number;
}

function parseNote(text: string): WaitingNote | undefined {
  const [first, last, retryAfter] = text.trim().split(' ').map(Number);
  if (first === undefined || last === undefined || retryAfter === undefined) return undefined;
  return [first, last, retryAfter].every(Number.isFinite) ? { first, last, retryAfter } : undefined;
}

async function refuse(dir: string, uuid: string, limit: number, now: number): Promise<Busy> {
  const waitingDir = join(dir, 'waiting');
  const notes = new Map<string, WaitingNote>();
  for (const entry of await readdir(waitingDir)) {
    const note = parseNote(await readFile(join(waitingDir, entry), 'utf8').catch(() => ''));
    const stale = note === undefined || now > note.last + (2 * note.retryAfter + STALE_NOTE_GRACE_SECONDS) * 1000;
    if (stale) await rm(join(waitingDir, entry), { force: true });
    else notes.set(entry, note);
  }
  const first = notes.get(uuid)?.first ?? now;
  const ahead = [...notes].filter(([other, note]) => other !== uuid && note.first < first).length;
  const retryAfterSeconds = retryAfter(ahead, limit, await readSessionSeconds(dir));
  await writeFile(join(waitingDir, uuid), `${first} ${now} ${retryAfterSeconds}\n`).catch((error: unknown) => {
    if (!isErrno(error, 'ENOENT')) throw error;
  });
  return { running: limit, limit, retryAfterSeconds };
}

/**
 * The suggested wait for a machine with `ahead` refused machines before it: the waves of `limit`
 * sessions ahead of it, each about `sessionSeconds` long, plus its own turn's; but no more than a
 * few sessions' length (at least {@link SHORT_CAP_SECONDS}). Sessions that ran while many agents
 * logged in at once were slowed by them and make a long queue look longer than it will be, and a
 * wait too long leaves slots idle, which costs more than an early return (one more refusal).
 */
export function retryAfter(ahead: number, limit: number, sessionSeconds: number): number {
  const waves = Math.floor(ahead / Math.max(1, limit)) + 1;
  const cap = longestWait(sessionSeconds);
  const seconds = Math.ceil(Math.min(cap, waves * sessionSeconds));
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(MIN_RETRY_AFTER_SECONDS, seconds));
}
