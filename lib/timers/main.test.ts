import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

/**
 * The built program as a real process: the default commands point at this package's dist/
 * under the Node.js that runs turku-timers. `npm test` builds first.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const program = `${root}dist/lib/timers/main.js`;

let image: string;

beforeAll(() => {
  if (!existsSync(program)) throw new Error(`${program} is missing: run "npm run build" first (npm test does)`);
});

beforeEach(async () => {
  image = await mkdtemp(join(tmpdir(), 'turku-timers-main-'));
});

afterEach(async () => {
  await rm(image, { recursive: true, force: true });
});

test('install and remove under --root, running the built programs of this package', async () => {
  const install = await execa(process.execPath, [program, 'install', 'agent', '--root', image, '--mode', 'both']);
  expect(install.stdout.split('\n')).toContain(`wrote ${image}/etc/cron.d/turku-agent`);
  const service = await readFile(join(image, 'etc/systemd/system/turku-agent-ping.service'), 'utf8');
  expect(service).toContain(`\nExecStart=${process.execPath} ${root}dist/lib/agent/ping-main.js\n`);

  const remove = await execa(process.execPath, [program, 'remove', 'agent', '--root', image]);
  expect(remove.stdout.split('\n')).toContain(`removed ${image}/etc/cron.d/turku-agent`);
  expect(existsSync(join(image, 'etc/systemd/system/turku-agent-ping.service'))).toBe(false);
});

test('bad usage exits 2 with one line on stderr', async () => {
  const result = await execa(process.execPath, [program, 'install', 'api'], { reject: false });
  expect(result.exitCode).toBe(2);
  expect(result.stdout).toBe('');
  expect(result.stderr).toBe('turku-timers: unknown role "api": expected agent or storage');
});
