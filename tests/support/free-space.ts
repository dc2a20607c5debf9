import { expect } from '@jest/globals';

/**
 * Free space the storage charm published against what the workload registered with the API:
 * each measures once, moments apart, on a disk other tests write to, so the figures agree within
 * a few MiB rather than exactly.
 */
export function expectSameFreeSpace(registeredMib: number, publishedMib: number): void {
  expect(Math.abs(registeredMib - publishedMib)).toBeLessThanOrEqual(64);
}
