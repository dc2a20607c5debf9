import { describe, expect, it } from '@jest/globals';

import { UserError } from '../../common/errors.js';
import { USAGE_EXIT } from '../../common/errors.js';
import { COMMANDS, commandUsage, parseAdminArgs, USAGE } from './cli.js';

/** The one line and exit status a bad command line ends with. */
function refusal(argv: readonly string[]): { exitCode: number; message: string } {
  try {
    parseAdminArgs(argv);
  } catch (error) {
    if (error instanceof UserError) return { exitCode: error.exitCode, message: error.message };
    throw error;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parseAdminArgs', () => {
  it('reads list-snapshots with its filters, the configuration directory and --json', () => {
    expect(
      parseAdminArgs(['list-snapshots', '--machine', 'prod-sql-sql_2', '--source=etc', '-c', '/x', '--json']),
    ).toEqual({
      kind: 'run',
      configDir: '/x',
      json: true,
      action: { command: 'list-snapshots', filter: { machine: 'prod-sql-sql_2', source: 'etc' } },
    });
  });

  it('defaults to /etc/turku-storage, a table, and every machine and source', () => {
    expect(parseAdminArgs(['list-snapshots'])).toEqual({
      kind: 'run',
      configDir: '/etc/turku-storage',
      json: false,
      action: { command: 'list-snapshots', filter: { machine: undefined, source: undefined } },
    });
  });

  it('reads manifest MACHINE SOURCE SNAPSHOT', () => {
    expect(parseAdminArgs(['manifest', 'm', 'etc', 'etc_1'])).toMatchObject({
      action: { command: 'manifest', machine: 'm', source: 'etc', snapshot: 'etc_1' },
    });
  });

  it('reads verify MACHINE SOURCE [SNAPSHOT], latest by default, values after -- as they are', () => {
    expect(parseAdminArgs(['verify', 'm', 'etc'])).toMatchObject({
      action: { command: 'verify', machine: 'm', source: 'etc', snapshot: 'latest' },
    });
    expect(parseAdminArgs(['verify', '--', '-m', 'etc', 'etc_1'])).toMatchObject({
      action: { command: 'verify', machine: '-m', source: 'etc', snapshot: 'etc_1' },
    });
  });

  it('reads expire with a strict retention policy', () => {
    const request = parseAdminArgs(['expire', '--retention', 'last 5 days', '--dry-run', '--source', 'etc']);
    expect(request).toMatchObject({
      kind: 'run',
      action: { command: 'expire', dryRun: true, filter: { machine: undefined, source: 'etc' } },
    });
    expect(request.kind === 'run' && request.action.command === 'expire' && request.action.policy.length).toBe(1);
  });

  it('answers --help, -h and help [COMMAND] with the usage', () => {
    expect(parseAdminArgs(['--help'])).toEqual({ kind: 'help', text: USAGE });
    expect(parseAdminArgs(['-h'])).toEqual({ kind: 'help', text: USAGE });
    expect(parseAdminArgs(['help'])).toEqual({ kind: 'help', text: USAGE });
    for (const command of Object.keys(COMMANDS) as (keyof typeof COMMANDS)[]) {
      expect(parseAdminArgs([command, '--help'])).toEqual({ kind: 'help', text: commandUsage(command) });
      expect(parseAdminArgs(['help', command])).toEqual({ kind: 'help', text: commandUsage(command) });
      expect(USAGE).toContain(`  ${COMMANDS[command].synopsis}\n`);
    }
  });

  it.each<[readonly string[], string | RegExp]>([
    [[], 'a command is required (see turku-storage-admin --help)'],
    [['frob'], 'unknown command "frob" (see turku-storage-admin --help)'],
    [['list-snapshots', 'extra'], /^list-snapshots: unexpected argument "extra"/],
    [['list-snapshots', '--retention', 'last 1 days'], 'list-snapshots: --retention does not apply'],
    [['list-snapshots', '--dry-run'], 'list-snapshots: --dry-run does not apply'],
    [['list-snapshots', '--machine', ''], '--machine must not be empty'],
    [['list-snapshots', '--bogus'], /^Unknown option '--bogus'/],
    [['list-snapshots', '--machine'], /--machine/],
    [['verify', 'm'], /^verify: missing arguments \(usage: verify MACHINE SOURCE \[SNAPSHOT\]\)$/],
    [['verify', 'm', 's', 'x', 'y'], /^verify: unexpected argument "y"/],
    [['verify', '--machine', 'm', 'm', 's'], 'verify: --machine does not apply'],
    [['verify', 'm', ''], 'SOURCE must not be empty'],
    [['manifest', 'm', 's'], /^manifest: missing arguments \(usage: manifest MACHINE SOURCE SNAPSHOT\)$/],
    [['manifest', '--source', 's', 'm', 's', 'x'], 'manifest: --source does not apply'],
    [['expire'], 'expire: --retention POLICY is required'],
    [['expire', '--retention', 'last 2 fortnights ago'], /^retention: /],
    [['expire', '--retention', ','], 'retention: the policy keeps everything; nothing to do'],
  ])('refuses %j with one line and exit status 2', (argv, message) => {
    const { exitCode, message: actual } = refusal(argv);
    expect(exitCode).toBe(USAGE_EXIT);
    expect(actual).not.toContain('\n');
    if (typeof message === 'string') expect(actual).toBe(message);
    else expect(actual).toMatch(message);
  });
});
