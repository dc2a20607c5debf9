import { runPolicyCli, USAGE, type PolicyCliIo } from './cli.js';

const ID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';

/** Daily snapshot times at 03:12 UTC from 2024-10-01 through 2024-12-15: set A of the retention vectors (lib/turku/retention.test.ts). */
const SET_A = Array.from({ length: 76 }, (_, day) =>
  new Date(Date.UTC(2024, 9, 1 + day, 3, 12)).toISOString().replace('.000Z', 'Z'),
).join('\n');

function io(files: Record<string, string> = {}, now = '2024-12-15T07:00:00Z'): PolicyCliIo {
  return {
    readText: (path) => {
      const text = files[path];
      if (text === undefined) return Promise.reject(new Error(`ENOENT: no such file or directory, open '${path}'`));
      return Promise.resolve(text);
    },
    now: () => new Date(now),
  };
}

describe('turku-policy frequency', () => {
  test('prints the next N times in ISO 8601 UTC', async () => {
    const result = await runPolicyCli(
      ['frequency', 'daily, 0200-1400', '--source-id', ID, '--after', '2024-12-15T07:00:00Z', '--count', '3'],
      io(),
    );
    expect(result).toEqual({
      exitCode: 0,
      stdout: ['2024-12-16T02:14:49Z', '2024-12-17T02:14:49Z', '2024-12-18T02:14:49Z'],
      stderr: [],
    });
  });

  test('defaults: five times, after now', async () => {
    const result = await runPolicyCli(['frequency', 'monthly', '--source-id', ID], io());
    expect(result.stdout).toEqual([
      '2025-01-31T03:12:15Z',
      '2025-02-28T03:12:15Z',
      '2025-03-31T03:12:15Z',
      '2025-04-16T03:12:15Z', // crc mod 30 = 15: the slot depends on the month's length
      '2025-05-31T03:12:15Z',
    ]);
  });

  test('time zone and week start; a naive --after is read in that zone', async () => {
    const result = await runPolicyCli(
      ['frequency', 'weekly, 0300', '--source-id', ID, '--after', '2024-12-15T07:00', '--count', '1'].concat([
        '--time-zone',
        'Europe/Helsinki',
        '--week-start',
        'Monday',
      ]),
      io(),
    );
    expect(result.stdout).toEqual(['2024-12-22T01:00:00Z']);
  });

  test('hourly with a time: a warning on stderr, times on stdout', async () => {
    const result = await runPolicyCli(['frequency', 'hourly, 0300', '--source-id', ID, '--count', '1'], io());
    expect(result).toEqual({
      exitCode: 0,
      stdout: ['2024-12-15T08:15:51Z'],
      stderr: ['turku-policy: warning: hourly ignores the time "0300"'],
    });
  });
});

describe('turku-policy retention', () => {
  test('reproduces the worked example: 7 kept, each with the clause that kept it', async () => {
    const result = await runPolicyCli(
      [
        'retention',
        'last 5 days, earliest of 1 month, earliest of 2 months',
        '--now',
        '2024-12-15T03:20:00Z',
        '--snapshots',
        'set-a.txt',
      ],
      io({ 'set-a.txt': SET_A }),
    );
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toHaveLength(76);
    expect(result.stdout.filter((line) => line.includes(' keep '))).toEqual([
      '2024-11-01T03:12:00Z keep earliest of 2 months',
      '2024-12-01T03:12:00Z keep earliest of 1 month',
      '2024-12-11T03:12:00Z keep last 5 days',
      '2024-12-12T03:12:00Z keep last 5 days',
      '2024-12-13T03:12:00Z keep last 5 days',
      '2024-12-14T03:12:00Z keep last 5 days',
      '2024-12-15T03:12:00Z keep last 5 days, newest snapshot',
    ]);
    expect(result.stdout[0]).toBe('2024-10-01T03:12:00Z delete');
  });

  test('reads "-" as stdin, skips blank lines and comments, reads naive times in the zone', async () => {
    const list = '# from ls\n2024-12-14T23:30:00\n\n2024-12-15T01:00:00+02:00\n';
    const result = await runPolicyCli(
      [
        'retention',
        'earliest of day',
        '--now',
        '2024-12-15T10:00:00Z',
        '--snapshots',
        '-',
        '--time-zone',
        'Europe/Helsinki',
      ],
      io({ '-': list }),
    );
    expect(result.stdout).toEqual([
      '2024-12-14T21:30:00Z delete',
      '2024-12-14T23:00:00Z keep earliest of day, newest snapshot',
    ]);
  });
});

describe('bad input: exit 2 and one line on stderr naming the problem', () => {
  test.each([
    [[], 'missing command: "frequency" or "retention" (see --help)'],
    [['schedule'], 'unknown command "schedule": expected "frequency" or "retention"'],
    [['frequency', 'daily'], '--source-id is required: the slot in a window is hashed from the source id'],
    [['frequency', '--source-id', ID], 'missing frequency expression'],
    [
      ['frequency', 'daily,', '0200', '--source-id', ID],
      'expected one frequency expression, got 2 arguments (quote it)',
    ],
    [['frequency', 'fortnightly', '--source-id', ID], 'frequency: unknown period "fortnightly"'],
    [['frequency', 'daily, 2am', '--source-id', ID], 'frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)'],
    [
      ['frequency', 'daily', '--source-id', ID, '--count', '0'],
      '--count must be a whole number from 1 to 10000, not "0"',
    ],
    [
      ['frequency', 'daily', '--source-id', ID, '--after', 'yesterday'],
      '--after: invalid timestamp "yesterday" (expected ISO 8601, e.g. 2024-12-15T03:12:00Z)',
    ],
    [['frequency', 'daily', '--source-id', ID, '--time-zone', 'Mars/Olympus'], 'unknown time zone "Mars/Olympus"'],
    [
      ['frequency', 'daily', '--source-id', ID, '--week-start', 'friday'],
      '--week-start must be "sunday" or "monday", not "friday"',
    ],
    [['frequency', 'daily', '--source-id', ID, '--verbose'], expect.stringContaining("Unknown option '--verbose'")],
    [
      ['retention', 'last 5 days', '--snapshots', 'set-a.txt'],
      '--now is required: retention depends on the time it runs',
    ],
    [['retention', 'last 5 days', '--now', '2024-12-15T03:20:00Z'], '--snapshots FILE (or - for stdin) is required'],
    [
      ['retention', 'last 5 days, earliest of 1 year', '--now', '2024-12-15T03:20:00Z', '--snapshots', 'set-a.txt'],
      'retention: unrecognised clause "earliest of 1 year"',
    ],
    [
      ['retention', 'last 5 days', '--now', '2024-12-15T03:20:00Z', '--snapshots', 'bad.txt'],
      'line 2: invalid timestamp "Dec 1" (expected ISO 8601, e.g. 2024-12-15T03:12:00Z)',
    ],
    [
      ['retention', 'last 5 days', '--now', '2024-12-15T03:20:00Z', '--snapshots', 'missing.txt'],
      "cannot read missing.txt: ENOENT: no such file or directory, open 'missing.txt'",
    ],
  ])('%j', async (argv, message) => {
    const result = await runPolicyCli(argv, io({ 'set-a.txt': SET_A, 'bad.txt': '2024-12-01T00:00:00Z\nDec 1\n' }));
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toEqual([]);
    expect(result.stderr).toHaveLength(1);
    expect(result.stderr[0]).toEqual(typeof message === 'string' ? `turku-policy: ${message}` : message);
  });

  test('--help prints the usage and succeeds', async () => {
    expect(await runPolicyCli(['--help'], io())).toEqual({ exitCode: 0, stdout: [USAGE], stderr: [] });
    for (const argv of [
      ['frequency', '--help'],
      ['retention', '-h'],
      ['frequency', 'daily', '--count', 'x', '-h'],
    ]) {
      expect(await runPolicyCli(argv, io())).toEqual({ exitCode: 0, stdout: [USAGE], stderr: [] });
    }
  });
});
