import { chooseVolume, spaceReport, spaceWarnings, type VolumeSpace } from './volumes.js';

const volume = (
  name: string,
  device: number,
  totalMiB: number,
  availableMiB: number,
  acceptsNew = true,
): VolumeSpace => ({
  name,
  path: `/${name}`,
  device,
  totalMiB,
  availableMiB,
  pctUsed: (1 - availableMiB / totalMiB) * 100,
  highWaterPct: 80,
  acceptsNew,
});

test('volumes on one filesystem are counted once and sums are floored', () => {
  expect(spaceReport([volume('a', 1, 1000.7, 600.9), volume('b', 1, 1000.7, 600.9), volume('c', 2, 500, 100)])).toEqual(
    { spaceTotal: 1500, spaceAvailable: 700 },
  );
});

test('a volume over the high-water mark reports its total but no available space', () => {
  expect(spaceReport([volume('full', 1, 1000, 100, false), volume('ok', 2, 1000, 900)])).toEqual({
    spaceTotal: 2000,
    spaceAvailable: 900,
  });
});

test('new machines go only to volumes that take them, weighted by free space', () => {
  const volumes = [volume('full', 1, 1000, 100, false), volume('small', 2, 1000, 100), volume('big', 3, 1000, 900)];
  expect(chooseVolume(volumes, () => 0.05)?.name).toBe('small');
  expect(chooseVolume(volumes, () => 0.5)?.name).toBe('big');
  expect(chooseVolume([volume('full', 1, 1000, 100, false)])).toBeUndefined();
});

test('a volume over its high-water mark is said in words, one under it is not', () => {
  expect(spaceWarnings([volume('full', 1, 1000, 90), volume('ok', 2, 1000, 900)])).toEqual([
    'volume full (/full) is 91.0% full (high-water mark 80%): it takes no new machines, and backups of machines on ' +
      'it may fail for want of space',
  ]);
});
