import { expect } from '@jest/globals';

/**
 * Free space the storage charm published against what the workload registered with the API:
 * each measures once, moments apart, on a disk other tests write to (a parallel `npm run pack`
 * writes some 400 MB), so the figures agree within hundreds of MiB rather than exactly. A mistake
 * of units (bytes, KiB or GiB for MiB) is off by a factor of 1024, far outside that on any disk
 * with a few GiB free.
 */
const TOLERANCE_MIB = 1024;

export function expectSameFreeSpace(registeredMib: number, publishedMib: number): void {
  expect(Math.abs(registeredMib - publishedMib)).toBeLessThanOrEqual(TOLERANCE_MIB);
}
