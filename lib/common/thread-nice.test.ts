import { Worker } from 'node:worker_threads';

import { niceOf, policyOf, SCHED_IDLE, threadNices, threadSchedules } from '../../tests/support/thread-nices.js';
import { startNiced } from './thread-nice.js';

/** The worker's first statement reads its own thread's nice value: what it ran at from its start. */
const REPORT_OWN_NICE = `
const stat = require('node:fs').readFileSync('/proc/thread-self/stat', 'utf8');
require('node:worker_threads').parentPort.postMessage(stat);
setInterval(() => {}, 1000); // alive until terminated
`;

const firstMessage = (worker: Worker) => new Promise<string>((resolve) => worker.once('message', resolve));

test('a worker started niced runs at that nice value from its first statement; no other thread changes', async () => {
  const before = await threadNices();
  const worker = startNiced(19, () => new Worker(REPORT_OWN_NICE, { eval: true }));
  try {
    const first = await firstMessage(worker);
    expect(niceOf(first)).toBe(19);
    expect(policyOf(first)).toBe(0);
    const nices = await threadNices();
    expect(nices.filter((nice) => nice === 19)).toHaveLength(1);
    expect(nices.filter((nice) => nice !== 19)).toEqual(before);
  } finally {
    await worker.terminate();
  }
});

test('a worker started as usual runs at its creator’s nice value', async () => {
  const worker = new Worker(REPORT_OWN_NICE, { eval: true });
  try {
    expect(niceOf(await firstMessage(worker))).not.toBe(19);
  } finally {
    await worker.terminate();
  }
});

test('a worker started niced with the idle policy runs under SCHED_IDLE at nice 19; no other thread changes', async () => {
  const before = await threadSchedules();
  const worker = startNiced(19, () => new Worker(REPORT_OWN_NICE, { eval: true }), { idlePolicy: true });
  try {
    expect(niceOf(await firstMessage(worker))).toBe(19);
    const after = await threadSchedules();
    expect(after.filter((thread) => thread.policy === SCHED_IDLE)).toEqual([{ nice: 19, policy: SCHED_IDLE }]);
    expect(after.filter((thread) => thread.policy !== SCHED_IDLE)).toEqual(before);
  } finally {
    await worker.terminate();
  }
});
