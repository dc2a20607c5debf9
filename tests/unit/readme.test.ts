import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** CI runs the README's test command: the two must not drift apart. */

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string): string => readFileSync(`${root}${path}`, 'utf8');

test('.ci/run runs exactly the test command the README gives', () => {
  const ciCommand = /# README test command:\n(.+)\n/.exec(read('.ci/run'))?.[1];
  expect(ciCommand).toBe('./scripts/setup && tox -e lint,unit,e2e,integration,lxd');
  expect(read('README.md')).toContain(`\n${ciCommand}\n`);
});

test('every Debian package scripts/setup installs is named in the README', () => {
  // The list may run over several lines.
  const packages = /^packages=\(([^)]*)\)$/m.exec(read('scripts/setup'))?.[1]?.split(/\s+/).filter(Boolean) ?? [];
  expect(packages.length).toBeGreaterThan(0);
  for (const name of packages) expect(read('README.md')).toContain(`\`${name}\``);
});
