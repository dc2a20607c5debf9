import { describe, expect, it } from '@jest/globals';

import { AsOfError, formatInZone, parseAsOf } from './as-of.js';

/** docs/datapath.md, "Restore as of a moment": how the agent reads --restore-as-of. */
describe('parseAsOf', () => {
  it.each([
    ['2026-12-05T12:00:00Z', 'UTC', '2026-12-05T12:00:00.000Z'],
    ['2026-12-05T14:00:00+02:00', 'UTC', '2026-12-05T12:00:00.000Z'],
    ['2026-12-05T14:00+0200', 'UTC', '2026-12-05T12:00:00.000Z'],
    ['2026-12-05 14:00:00.5-01', 'UTC', '2026-12-05T15:00:00.500Z'],
    ['2026-12-05T14:00:00z', 'Europe/Helsinki', '2026-12-05T14:00:00.000Z'],
  ])('%s with a zone is that instant', (text, zone, iso) => {
    expect(parseAsOf(text, zone).toISOString()).toBe(iso);
  });

  it.each([
    ['2026-12-05T14:00', 'Europe/Helsinki', '2026-12-05T12:00:00.000Z'],
    ['2026-07-05 14:00:30', 'Europe/Helsinki', '2026-07-05T11:00:30.000Z'],
    ['2026-12-05', 'Europe/Helsinki', '2026-12-04T22:00:00.000Z'],
    ['2026-12-05T14:00', 'UTC', '2026-12-05T14:00:00.000Z'],
  ])('%s without a zone is wall-clock time in %s', (text, zone, iso) => {
    expect(parseAsOf(text, zone).toISOString()).toBe(iso);
  });

  it('a skipped time (summer time starts) is the moment the clock jumped', () => {
    // Helsinki, 2026-03-29: 03:00 EET became 04:00 EEST at 01:00 UTC.
    expect(parseAsOf('2026-03-29T03:30', 'Europe/Helsinki').toISOString()).toBe('2026-03-29T00:59:59.999Z');
    expect(parseAsOf('2026-03-29T02:59:59', 'Europe/Helsinki').toISOString()).toBe('2026-03-29T00:59:59.000Z');
    expect(parseAsOf('2026-03-29T04:00', 'Europe/Helsinki').toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });

  it('a repeated time (summer time ends) is its second occurrence', () => {
    // Helsinki, 2026-10-25: 04:00 EEST became 03:00 EET at 01:00 UTC; 03:30 happened at 00:30 and 01:30 UTC.
    expect(parseAsOf('2026-10-25T03:30', 'Europe/Helsinki').toISOString()).toBe('2026-10-25T01:30:00.000Z');
    expect(parseAsOf('2026-10-25T02:59', 'Europe/Helsinki').toISOString()).toBe('2026-10-24T23:59:00.000Z');
  });

  it.each([
    'yesterday',
    '2026-13-01T00:00',
    '2026-02-30',
    '2026-12-05T25:00',
    '12/05/2026',
    '',
    '2026-12-05T14:00+25:00',
  ])('refuses %j', (text) => {
    expect(() => parseAsOf(text, 'UTC')).toThrow(AsOfError);
  });
});

/** docs/datapath.md, "Restore as of a moment": relative forms, against a given now and zone. */
describe('parseAsOf, relative forms', () => {
  const at = (iso: string) => new Date(iso);
  const read = (text: string, zone: string, now: string) => parseAsOf(text, zone, at(now)).toISOString();

  it.each([
    // Berlin, 2026-03-29: 02:00 CET became 03:00 CEST at 01:00 UTC.
    ['yesterday 14:00', 'Europe/Berlin', '2026-03-30T08:00:00Z', '2026-03-29T12:00:00.000Z'],
    ['yesterday at 2pm', 'Europe/Berlin', '2026-03-30T08:00:00Z', '2026-03-29T12:00:00.000Z'],
    ['today 09:30', 'Europe/Berlin', '2026-03-29T10:00:00Z', '2026-03-29T07:30:00.000Z'],
    ['last friday 18:00', 'Europe/Berlin', '2026-03-30T08:00:00Z', '2026-03-27T17:00:00.000Z'],
    // 3 days back on the calendar, same clock time: 73 hours across the skipped hour.
    ['3 days ago', 'Europe/Berlin', '2026-03-31T10:00:00Z', '2026-03-28T11:00:00.000Z'],
    // New York, 2026-11-01: 02:00 EDT became 01:00 EST at 06:00 UTC.
    ['yesterday 14:00', 'America/New_York', '2026-11-02T17:00:00Z', '2026-11-01T19:00:00.000Z'],
    ['today 09:30', 'America/New_York', '2026-11-01T17:00:00Z', '2026-11-01T14:30:00.000Z'],
    ['last friday 18:00', 'America/New_York', '2026-03-09T16:00:00Z', '2026-03-06T23:00:00.000Z'],
    ['3 days ago', 'America/New_York', '2026-11-03T17:00:00Z', '2026-10-31T16:00:00.000Z'],
    ['  Yesterday 14:00 ', 'UTC', '2026-12-05T12:00:00Z', '2026-12-04T14:00:00.000Z'],
    ['yesterday 14:00 UTC', 'Europe/Berlin', '2026-12-05T12:00:00Z', '2026-12-04T14:00:00.000Z'],
  ])('%j in %s at %s is %s', (text, zone, now, iso) => {
    expect(read(text, zone, now)).toBe(iso);
  });

  it('hours back are elapsed time, exact across a change of the clock', () => {
    // 04:30 CEST is 02:30 UTC; two hours before is 01:30 CET, not the skipped 02:30.
    expect(read('2 hours ago', 'Europe/Berlin', '2026-03-29T02:30:00Z')).toBe('2026-03-29T00:30:00.000Z');
    // 01:30 EST (the second one) is 06:30 UTC; two hours before is 00:30 EDT.
    expect(read('2 hours ago', 'America/New_York', '2026-11-01T06:30:00Z')).toBe('2026-11-01T04:30:00.000Z');
    // Text that counts hours counts its days as 24 hours: 26 hours before 12:00 CEST is 09:00 CET.
    expect(read('1 day 2 hours ago', 'Europe/Berlin', '2026-03-29T10:00:00Z')).toBe('2026-03-28T08:00:00.000Z');
    expect(read('24 hours ago', 'Australia/Sydney', '2028-04-01T16:00:00Z')).toBe('2028-03-31T16:00:00.000Z');
  });

  it('"now" is now, even while the clock shows an hour for the first of two times', () => {
    // 02:30 CEST, 2026-10-25: the clock will show 02:30 again an hour later.
    expect(read('now', 'Europe/Berlin', '2026-10-25T00:30:00Z')).toBe('2026-10-25T00:30:00.000Z');
  });

  it('a skipped or repeated wall-clock time follows the ISO rules', () => {
    const berlin = 'Europe/Berlin';
    expect(read('yesterday 02:30', berlin, '2026-03-30T08:00:00Z')).toBe(
      parseAsOf('2026-03-29T02:30', berlin).toISOString(),
    );
    expect(read('yesterday 02:30', berlin, '2026-03-30T08:00:00Z')).toBe('2026-03-29T00:59:59.999Z');
    expect(read('today 02:30', berlin, '2026-10-25T12:00:00Z')).toBe(
      parseAsOf('2026-10-25T02:30', berlin).toISOString(),
    );
    expect(read('today 02:30', berlin, '2026-10-25T12:00:00Z')).toBe('2026-10-25T01:30:00.000Z');
    const york = 'America/New_York';
    expect(read('yesterday 02:30', york, '2026-03-09T16:00:00Z')).toBe(
      parseAsOf('2026-03-08T02:30', york).toISOString(),
    );
    expect(read('yesterday 01:30', york, '2026-11-02T17:00:00Z')).toBe('2026-11-01T06:30:00.000Z');
  });

  it('ISO input keeps its meaning, whatever now is', () => {
    expect(read('2026-12-05T14:00', 'Europe/Helsinki', '2020-01-01T00:00:00Z')).toBe('2026-12-05T12:00:00.000Z');
    expect(() => parseAsOf('2026-12-05 at 14:00', 'UTC', at('2026-12-06T00:00:00Z'))).toThrow(/Cannot read the time/);
  });

  it.each([
    ['yesterday', /names a day but not a time of day/],
    ['last friday', /names a day but not a time of day/],
    ['12/05/2026', /ambiguous \(day or month first\)/],
    ['tomorrow 14:00', /after now/],
    ['today 23:00', /after now/],
    ['in 2 hours', /after now/],
    ['yesterday 14:00 or so', /Cannot read the time/],
    ['yesterday 2', /Cannot read the time/],
    ['banana', /Cannot read the time/],
    ['yesterday 14:00 - 15:00', /a span of time/],
  ])('refuses %j on one line', (text, reason) => {
    const attempt = () => parseAsOf(text, 'Europe/Berlin', at('2026-12-05T12:00:00Z'));
    expect(attempt).toThrow(AsOfError);
    expect(attempt).toThrow(reason);
    try {
      attempt();
    } catch (error) {
      expect((error as Error).message).not.toContain('\n');
    }
  });

  it('names the accepted forms when it reads nothing', () => {
    expect(() => parseAsOf('banana', 'UTC')).toThrow(
      'Cannot read the time "banana": use ISO 8601 (2026-12-05T14:00, 2026-12-05 14:00:30, 2026-12-05T12:00Z) or a relative time (yesterday 14:00, today 09:30, 2 hours ago, 3 days ago, last friday 18:00)',
    );
  });
});

describe('formatInZone', () => {
  it('shows the instant on the clock of the zone, to the second', () => {
    expect(formatInZone(new Date('2026-12-05T12:00:00.700Z'), 'Europe/Helsinki')).toBe('2026-12-05T14:00:00+02:00');
    expect(formatInZone(new Date('2026-07-05T12:00:00Z'), 'UTC')).toBe('2026-07-05T12:00:00+00:00');
  });
});
