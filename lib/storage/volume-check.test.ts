import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseStorageSettings } from './settings.js';
import { machineVolume, spaceWarning } from './volume-check.js';

/** The space check before a pull (issue 17 item 10): which volume, which mark, what is said. */

test('the warning names the volume, its use and its mark, only over the mark', () => {
  const volume = { path: '/srv/turku', highWaterPct: 80 };
  expect(spaceWarning(volume, 79.9)).toBe('');
  expect(spaceWarning(volume, 80)).toBe('');
  expect(spaceWarning(volume, 96.6)).toBe(
    'Warning: volume /srv/turku is 97% full (high-water mark 80%); pulling anyway\n',
  );
  // Rounded to the mark itself, it keeps a decimal rather than say "80% full (high-water mark 80%)".
  expect(spaceWarning(volume, 80.2)).toBe(
    'Warning: volume /srv/turku is 80.2% full (high-water mark 80%); pulling anyway\n',
  );
});

test("a machine directory's volume and mark: the volume's own, else the storage's", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'turku-volume-check-'));
  try {
    for (const name of ['a/m1', 'b/m2', 'elsewhere/m3']) await mkdir(join(dir, name), { recursive: true });
    const settings = parseStorageSettings({
      name: 's',
      secret: 'x',
      api_url: 'http://api',
      volumes: { a: { path: join(dir, 'a'), accept_new_high_water_pct: 90 }, b: { path: join(dir, 'b') } },
      accept_new_high_water_pct: 75,
    });
    expect(await machineVolume(settings, join(dir, 'a', 'm1'))).toEqual({ path: join(dir, 'a'), highWaterPct: 90 });
    expect(await machineVolume(settings, join(dir, 'b', 'm2'))).toEqual({ path: join(dir, 'b'), highWaterPct: 75 });
    expect(await machineVolume(settings, join(dir, 'elsewhere', 'm3'))).toEqual({
      path: join(dir, 'elsewhere'),
      highWaterPct: 75,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
