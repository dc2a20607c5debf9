import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

/**
 * The installed command as an operator runs it: the built program as a real process, reading
 * stdin and reporting through its exit status. `npm test` builds first.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const program = `${root}dist/lib/policy-cli/main.js`;

const SNAPSHOTS = Array.from({ length: 76 }, (_, day) =>
  new Date(Date.UTC(2024, 9, 1 + day, 3, 12)).toISOString(),
).join('\n');
const WORKED_EXAMPLE = [
  'retention',
  'last 5 days, earliest of 1 month, earliest of 2 months',
  '--now',
  '2024-12-15T03:20:00Z',
  '--snapshots',
  '-',
];

beforeAll(() => {
  if (!existsSync(program)) throw new Error(`${program} is missing: run "npm run build" first (npm test does)`);
});

test('npx turku-policy reproduces the worked example from the repository root', async () => {
  const result = await execa('npx', ['--no-install', 'turku-policy', ...WORKED_EXAMPLE], {
    cwd: root,
    input: SNAPSHOTS,
  });
  const kept = result.stdout.split('\n').filter((line) => line.includes(' keep '));
  expect(kept.map((line) => line.slice(0, 10))).toEqual([
    '2024-11-01',
    '2024-12-01',
    '2024-12-11',
    '2024-12-12',
    '2024-12-13',
    '2024-12-14',
    '2024-12-15',
  ]);
});

test('bad input exits 2 with one line on stderr', async () => {
  const result = await execa(program, ['frequency', 'daily, 2am', '--source-id', 'x'], { reject: false });
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe('turku-policy: frequency: invalid time "2am" (expected HHMM or HHMM-HHMM)');
});
