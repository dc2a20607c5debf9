import { FrequencyError, parseFrequency } from './frequency.js';

const detail = (text: string): string => {
  try {
    parseFrequency(text);
  } catch (error) {
    if (error instanceof FrequencyError) return error.message;
    throw error;
  }
  throw new Error(`"${text}" was accepted`);
};

describe('parseFrequency: every grammar form', () => {
  test.each(['hourly', 'daily', 'weekly', 'monthly'])('%s', (period) => {
    expect(parseFrequency(period).kind).toBe(period);
  });

  test.each(['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'])('%s', (day) => {
    expect(parseFrequency(day)).toEqual({ kind: 'weekday', day, time: { kind: 'hashed' } });
  });

  test('a fixed time and a window, with the spaces and tabs the grammar allows', () => {
    expect(parseFrequency('daily, 0315')).toEqual({ kind: 'daily', time: { kind: 'fixed', seconds: 11_700 } });
    expect(parseFrequency(' \tdaily ,\t0200 - 1400 ')).toEqual({
      kind: 'daily',
      time: { kind: 'window', start: 7200, end: 50_400 },
    });
    expect(parseFrequency('friday,2200-0200')).toEqual({
      kind: 'weekday',
      day: 'friday',
      time: { kind: 'window', start: 79_200, end: 7200 },
    });
  });

  test('keywords in any case', () => {
    expect(parseFrequency('WEEKLY').kind).toBe('weekly');
    expect(parseFrequency('Sunday, 0630')).toMatchObject({ kind: 'weekday', day: 'sunday' });
    expect(parseFrequency('CRON 0 0 * * *').kind).toBe('cron');
  });

  test('hourly accepts a time but ignores it, with a warning', () => {
    expect(parseFrequency('hourly, 0315')).toEqual({ kind: 'hourly', warnings: ['hourly ignores the time "0315"'] });
    expect(parseFrequency('hourly')).toEqual({ kind: 'hourly', warnings: [] });
  });

  test('cron expressions and aliases', () => {
    const parsed = parseFrequency('cron  0   8 * *  mon-fri');
    expect(parsed).toMatchObject({ kind: 'cron', cron: { expression: '0 8 * * mon-fri', hashed: false } });
    expect(parseFrequency('cron @midnight')).toMatchObject({ cron: { expression: 'H H(0-2) * * *', hashed: true } });
    for (const alias of ['@hourly', '@daily', '@weekly', '@monthly', '@yearly', '@annually']) {
      expect(parseFrequency(`cron ${alias}`).kind).toBe('cron');
    }
  });
});

describe('parseFrequency: errors name the offending text', () => {
  test.each([
    ['fortnightly', 'frequency: unknown period "fortnightly"'],
    ['every day', 'frequency: unknown period "every day"'],
    ['cronjob', 'frequency: unknown period "cronjob"'],
    ['daily, 2am', 'frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)'],
    ['daily, 2400', 'frequency: invalid time "2400" (expected HHMM or HHMM-HHMM)'],
    ['daily, 0160', 'frequency: invalid time "0160" (expected HHMM or HHMM-HHMM)'],
    ['daily, 0200-2500', 'frequency: invalid time "0200-2500" (expected HHMM or HHMM-HHMM)'],
    ['daily, 315', 'frequency: invalid time "315" (expected HHMM or HHMM-HHMM)'],
    ['daily,', 'frequency: invalid time "" (expected HHMM or HHMM-HHMM)'],
    ['hourly, 2am', 'frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)'],
    ['daily, 0100, 0200', 'frequency: too many comma-separated parts'],
    ['', 'frequency: must not be empty'],
    [' \t ', 'frequency: must not be empty'],
    ['daily\n', 'frequency: unknown period "daily\n"'],
    ['x'.repeat(201), 'frequency: longer than 200 characters'],
  ])('%j', (text, message) => {
    expect(detail(text)).toBe(message);
  });

  test.each([
    ['cron', 'empty expression'],
    ['cron 1 2 3', 'expected 5 fields (minute hour day-of-month month day-of-week), got 3'],
    ['cron 0 0 * * * *', 'expected 5 fields (minute hour day-of-month month day-of-week), got 6'],
    ['cron 60 * * * *', 'minute "60": 60 is out of range 0-59'],
    ['cron * 24 * * *', 'hour "24": 24 is out of range 0-23'],
    ['cron * * 0 * *', 'day-of-month "0": 0 is out of range 1-31'],
    ['cron * * * 13 *', 'month "13": 13 is out of range 1-12'],
    ['cron * * * * 8', 'day-of-week "8": 8 is out of range 0-7'],
    ['cron * * * foo *', 'month "foo": "foo" is not a number or name'],
    ['cron */0 * * * *', 'minute "*/0": step must be at least 1'],
    ['cron 30-10 * * * *', 'minute "30-10": range start is after its end'],
    ['cron 1,,2 * * * *', 'empty list element in minute field "1,,2"'],
    ['cron L * * * *', 'minute "L": "L" is not a number or name'],
    ['cron ? * * * *', 'minute field: cannot parse "?"'],
    ['cron H(5-5) * * * *', 'minute "H(5-5)": hashed range start must be below its end'],
    ['cron H(0-20)/30 * * * *', 'minute "H(0-20)/30": step 30 is larger than the range'],
    ['cron * H(0-24) * * *', 'hour "H(0-24)": 24 is out of range 0-23'],
    ['cron @reboot', 'unknown alias "@reboot"'],
    ['cron 0 0 30 2 *', 'the day-of-month and month fields never match a real date'],
    ['cron 0 0 31 4,6,9,11 *', 'the day-of-month and month fields never match a real date'],
  ])('%j: %s', (text, reason) => {
    const expression = text.slice('cron'.length).trim();
    expect(detail(text)).toBe(`frequency: invalid cron expression "${expression}": ${reason}`);
  });

  test('30 February is fine when a weekday can match instead', () => {
    expect(parseFrequency('cron 0 0 30 2 mon').kind).toBe('cron');
  });
});
