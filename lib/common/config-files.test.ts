import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigFileError } from '../turku/config.js';
import { loadAgentConfig, loadConfig } from './config-files.js';

let root: string;
let etc: string;
let varDir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'turku-config-'));
  etc = join(root, 'etc');
  varDir = join(root, 'var');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
}

describe('loadConfig', () => {
  test('/etc wins over the generated var_dir state, which is JSON only', async () => {
    await put(join(etc, 'config.d', '10-api.yaml'), `api_url: https://api/v1\nvar_dir: ${varDir}\nnested: {a: etc}\n`);
    await put(join(etc, 'config.d', '20-more.json'), '{"unit_name": "sql/2"}');
    await put(
      join(varDir, 'config.d', '10-machine_uuid.json'),
      '{"machine_uuid": "u", "unit_name": "var", "nested": {"b": 1}}',
    );
    await put(join(varDir, 'config.d', '20-ignored.yaml'), 'ignored: true\n');
    const { config } = await loadConfig(etc, '/nonexistent');
    expect(config).toEqual({
      api_url: 'https://api/v1',
      var_dir: varDir,
      unit_name: 'sql/2',
      machine_uuid: 'u',
      nested: { a: 'etc', b: 1 },
    });
  });

  test('missing directories are empty configuration', async () => {
    expect(await loadConfig(etc, varDir)).toEqual({ config: {}, warnings: [] });
  });

  test('only regular .json and .yaml files are read', async () => {
    await put(join(etc, 'config.d', 'a.json'), '{"a": 1}');
    await put(join(etc, 'config.d', 'b.yml'), 'b: 1\n');
    await put(join(etc, 'config.d', 'c.json.dpkg-old'), '{"c": 1}');
    await mkdir(join(etc, 'config.d', 'd.json'));
    expect((await loadConfig(etc, varDir)).config).toEqual({ a: 1 });
  });

  test('a parse error names the file', async () => {
    const bad = join(etc, 'config.d', '50-bad.json');
    await put(bad, '{"a": ');
    await expect(loadConfig(etc, varDir)).rejects.toThrow(ConfigFileError);
    await expect(loadConfig(etc, varDir)).rejects.toThrow(`Error loading ${bad}: `);
  });
});

describe('loadAgentConfig', () => {
  test('sources.d fragments merge into one map; entries without a path are dropped with a warning', async () => {
    await put(join(etc, 'config.d', 'a.json'), `{"var_dir": "${varDir}"}`);
    await put(join(etc, 'sources.d', 'etc.json'), '{"etc": {"path": "/etc"}}');
    await put(join(etc, 'sources.d', 'home.yaml'), 'home:\n  path: /home\n  exclude: ["*.tmp"]\n');
    await put(
      join(etc, 'sources.d', 'zz-tuning.json'),
      '{"home": {"frequency": "daily, 0200-0600"}, "orphan": {"frequency": "hourly"}}',
    );
    const loaded = await loadAgentConfig(etc);
    expect(loaded.sources).toEqual({
      etc: { path: '/etc' },
      home: { path: '/home', exclude: ['*.tmp'], frequency: 'daily, 0200-0600' },
    });
    expect(loaded.warnings).toEqual(['Ignoring source "orphan": it has no "path"']);
  });

  test('names the first file that declares each source whose name breaks the source-name rule', async () => {
    await put(join(etc, 'config.d', 'a.json'), `{"var_dir": "${varDir}"}`);
    await put(join(etc, 'sources.d', '10-ok.json'), '{"etc": {"path": "/etc"}}');
    await put(join(etc, 'sources.d', '20-bad.yaml'), '"-rf":\n  path: /srv\n');
    await put(join(etc, 'sources.d', '30-tuning.json'), '{"-rf": {"frequency": "hourly"}, "global": {"path": "/g"}}');
    const loaded = await loadAgentConfig(etc);
    expect(loaded.unsafeNames).toEqual([
      {
        name: '-rf',
        file: join(etc, 'sources.d', '20-bad.yaml'),
        problem: 'must not start with "-" (rsync would read it as an option)',
      },
      {
        name: 'global',
        file: join(etc, 'sources.d', '30-tuning.json'),
        problem: 'must not be "global" (rsync\'s name for its global settings)',
      },
    ]);
  });
});
