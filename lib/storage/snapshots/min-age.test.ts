import { captureLog } from './__tests__/fixtures.js';
import { keepYoung, splitByMinAge } from './min-age.js';

const NOW = new Date('2026-12-05T12:00:00Z');
const DAY = 86_400_000;
const at = (name: string, daysAgo: number) => ({ name, finishedAt: new Date(NOW.getTime() - daysAgo * DAY) });

test('a victim exactly min_age old goes; a younger one, or one from the future, stays', () => {
  const victims = [at('old', 30), at('edge', 7), at('young', 6.99), at('future', -1)];
  const { expirable, kept } = splitByMinAge(victims, 7 * 86_400, NOW);
  expect(expirable.map((v) => v.name)).toEqual(['old', 'edge']);
  expect(kept.map((v) => v.name)).toEqual(['young', 'future']);
});

test('one warning names every snapshot kept; none when nothing is kept or min_age is off', () => {
  const log = captureLog();
  expect(keepYoung([at('a', 1), at('b', 2), at('c', 9)], 7 * 86_400, NOW, log).map((v) => v.name)).toEqual(['c']);
  expect(log.at('warning')).toEqual(['Retention asked to delete 2 snapshots younger than min_age (1w), kept: a, b']);
  const quiet = captureLog();
  expect(keepYoung([at('c', 9)], 7 * 86_400, NOW, quiet)).toHaveLength(1);
  expect(keepYoung([at('a', 1)], 0, NOW, quiet)).toHaveLength(1);
  expect(keepYoung([at('a', 1)], undefined, NOW, quiet)).toHaveLength(1);
  expect(quiet.lines).toEqual([]);
});
