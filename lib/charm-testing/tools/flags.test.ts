import { ToolError, goQuoteList, parseFlags } from './flags.js';
import { addApplication, fixtureModel, toolSession } from '../fixtures.js';

const specs = {
  relation: { short: 'r', long: 'relation', kind: 'value' },
  app: { long: 'app', kind: 'bool' },
  all: { short: 'a', long: 'all', kind: 'bool' },
} as const;

function failure(fn: () => unknown): ToolError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ToolError) return error;
    throw error;
  }
  throw new Error('expected a ToolError');
}

describe('parseFlags', () => {
  test('accepts --x=v, --x v, -x v, -xv and interspersed flags', () => {
    expect(parseFlags(['--relation=db:1', 'k'], specs)).toMatchObject({
      values: { relation: 'db:1' },
      positional: ['k'],
    });
    expect(parseFlags(['k', '--relation', 'db:1', 'u/0'], specs)).toMatchObject({
      values: { relation: 'db:1' },
      positional: ['k', 'u/0'],
    });
    expect(parseFlags(['-r', '3'], specs).values['relation']).toBe('3');
    expect(parseFlags(['-r3'], specs).values['relation']).toBe('3');
    expect(parseFlags(['--app', '-a'], specs).bools).toEqual({ app: true, all: true });
    expect(parseFlags(['--app=false'], specs).bools).toEqual({ app: false });
  });

  test('-- ends the flags; a lone - is an argument', () => {
    expect(parseFlags(['--', '-r', '--app'], specs).positional).toEqual(['-r', '--app']);
    expect(parseFlags(['-', 'u/0'], specs).positional).toEqual(['-', 'u/0']);
  });

  test('[fidelity 9] an unknown flag is "option provided but not defined", exit 2', () => {
    const long = failure(() => parseFlags(['--bogus'], specs));
    expect(long.code).toBe(2);
    expect(long.message).toBe('option provided but not defined: --bogus');
    expect(failure(() => parseFlags(['-z'], specs)).message).toBe('option provided but not defined: -z');
  });

  test('a value flag without its value: "option needs an argument"', () => {
    const error = failure(() => parseFlags(['-r'], specs));
    expect(error.code).toBe(2);
    expect(error.message).toBe('option needs an argument: -r');
  });

  test('Go-quoted lists for unrecognized args', () => {
    expect(goQuoteList(['extra', 'b c'])).toBe('["extra" "b c"]');
  });

  test('[fidelity 9] [fidelity 8] through a tool: exit 2 and one ERROR line', async () => {
    const model = fixtureModel();
    addApplication(model, 'api');
    const { run } = toolSession(model, 'api/0');
    const result = await run('config-get', '--bogus');
    expect(result).toEqual({ code: 2, stdout: '', stderr: 'ERROR option provided but not defined: --bogus\n' });
    expect(await run('is-leader', 'extra')).toEqual({
      code: 2,
      stdout: '',
      stderr: 'ERROR unrecognized args: ["extra"]\n',
    });
  });

  test('[fidelity 8] success exits 0 with empty stderr; runtime errors exit 1; --help exits 0', async () => {
    const model = fixtureModel();
    addApplication(model, 'api', { units: 2 });
    const follower = toolSession(model, 'api/1');
    expect(await follower.run('is-leader', '--format=json')).toEqual({ code: 0, stdout: 'false\n', stderr: '' });
    const denied = await follower.run('leader-set', 'a=b');
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^ERROR [^\n]+\n$/);
    expect((await follower.run('relation-get', '--help')).code).toBe(0);
  });
});
