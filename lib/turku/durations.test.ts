import { formatDuration, parseDuration } from './durations.js';

test('reads the forms operators write', () => {
  expect(parseDuration('7d')).toBe(7 * 86_400);
  expect(parseDuration('36h')).toBe(36 * 3_600);
  expect(parseDuration('1w 2d')).toBe(9 * 86_400);
  expect(parseDuration('1d12h')).toBe(36 * 3_600);
  expect(parseDuration('3 days')).toBe(3 * 86_400);
  expect(parseDuration('90m')).toBe(5_400);
  expect(parseDuration('45s')).toBe(45);
  expect(parseDuration('1.5h')).toBe(5_400);
  expect(parseDuration('600')).toBe(600);
  expect(parseDuration(600)).toBe(600);
  expect(parseDuration('0')).toBe(0);
  expect(parseDuration(' 7D ')).toBe(7 * 86_400);
});

test('refuses anything else', () => {
  for (const bad of ['', 'd', '7x', '-1d', '7d foo', 'seven days', '1d-2h'])
    expect([bad, parseDuration(bad)]).toEqual([bad, null]);
  expect(parseDuration(-1)).toBeNull();
  expect(parseDuration(Number.NaN)).toBeNull();
});

test('formats back to the shortest exact form', () => {
  expect(formatDuration(7 * 86_400)).toBe('1w');
  expect(formatDuration(6 * 86_400)).toBe('6d');
  expect(formatDuration(36 * 3_600)).toBe('1d 12h');
  expect(formatDuration(0)).toBe('0s');
  expect(formatDuration(61)).toBe('1m 1s');
  for (const seconds of [1, 59, 3_601, 604_799, 1_000_000])
    expect(parseDuration(formatDuration(seconds))).toBe(seconds);
});
