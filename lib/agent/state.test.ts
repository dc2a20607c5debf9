import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { execa } from 'execa';

import { loadAgentConfig } from '../common/config-files.js';
import { agentTree, memoryLog, removeTempDirs, tempDir } from './__tests__/helpers.js';
import { parseAgentSettings } from './settings.js';
import { cleanUpLegacyState, ensureIdentity, ensureSshKey, IDENTITY_FILE } from './state.js';

afterAll(removeTempDirs);

const UUID4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function settingsOf(configDir: string) {
  return parseAgentSettings((await loadAgentConfig(configDir)).config, { hostname: 'h' });
}

describe('machine identity', () => {
  it('is generated once, mode 0600, sorted keys and 4-space indent, then kept', async () => {
    const tree = await agentTree({ api_url: 'http://127.0.0.1:1/v1' });
    await mkdir(join(tree.varDir, 'config.d'), { recursive: true });
    const log = memoryLog();
    const first = await ensureIdentity(await settingsOf(tree.configDir), log);
    expect(first.machine_uuid).toMatch(UUID4);
    expect(first.machine_secret).toMatch(/^[A-Za-z0-9]{30}$/);
    const file = join(tree.varDir, 'config.d', IDENTITY_FILE);
    expect(await readFile(file, 'utf8')).toBe(
      `{\n    "machine_secret": "${first.machine_secret}",\n    "machine_uuid": "${first.machine_uuid}"\n}\n`,
    );
    const before = await stat(file);
    expect(before.mode & 0o777).toBe(0o600);

    const second = await ensureIdentity(await settingsOf(tree.configDir), log);
    expect(second).toEqual(first);
    const after = await stat(file);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('completes a half-pinned identity and keeps the pinned value', async () => {
    const tree = await agentTree({ machine_uuid: '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d' });
    await mkdir(join(tree.varDir, 'config.d'), { recursive: true });
    const identity = await ensureIdentity(await settingsOf(tree.configDir), memoryLog());
    expect(identity.machine_uuid).toBe('9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d');
    expect((await settingsOf(tree.configDir)).machine_secret).toBe(identity.machine_secret);
  });

  it("adopts an original agent's state as it is", async () => {
    const tree = await agentTree();
    await mkdir(join(tree.varDir, 'config.d'), { recursive: true });
    const original =
      '{\n    "machine_secret": "Pde0IgxLd6GncfBAepfJBd0Kh8oOOL",\n    "machine_uuid": "9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d"\n}';
    await writeFile(join(tree.varDir, 'config.d', IDENTITY_FILE), original, { mode: 0o600 });
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'turku', '-f', join(tree.varDir, 'ssh_key')]);
    const pub = (await readFile(join(tree.varDir, 'ssh_key.pub'), 'utf8')).trim();

    const settings = await settingsOf(tree.configDir);
    const log = memoryLog();
    expect(await ensureIdentity(settings, log)).toEqual({
      machine_uuid: '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
      machine_secret: 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL',
    });
    expect(await ensureSshKey(settings, log)).toBe(pub);
    expect(await readFile(join(tree.varDir, 'config.d', IDENTITY_FILE), 'utf8')).toBe(original);
    expect(log.lines).toEqual([]);
  });
});

describe('ssh key', () => {
  it('is generated with ssh-keygen, comment "turku", private part 0600', async () => {
    const varDir = await tempDir();
    const log = memoryLog();
    const pub = await ensureSshKey({ var_dir: varDir, ssh_key_type: 'ed25519' }, log);
    expect(pub).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+ turku$/);
    expect((await stat(join(varDir, 'ssh_key'))).mode & 0o777).toBe(0o600);
    expect(await ensureSshKey({ var_dir: varDir, ssh_key_type: 'ed25519' }, log)).toBe(pub);
    expect(log.lines.filter((line) => line.includes('Generated the SSH key'))).toHaveLength(1);
  });

  it('derives a lost .pub from the private key instead of replacing the identity', async () => {
    const varDir = await tempDir();
    const pub = await ensureSshKey({ var_dir: varDir, ssh_key_type: 'ed25519' }, memoryLog());
    await unlink(join(varDir, 'ssh_key.pub'));
    expect(
      (await ensureSshKey({ var_dir: varDir, ssh_key_type: 'ed25519' }, memoryLog())).split(' ').slice(0, 2),
    ).toEqual(pub.split(' ').slice(0, 2));
  });

  it('reports an unknown key type in one line', async () => {
    const varDir = await tempDir();
    await expect(ensureSshKey({ var_dir: varDir, ssh_key_type: 'nonsense' }, memoryLog())).rejects.toThrow(
      /^ssh-keygen failed: .*nonsense/,
    );
  });
});

describe('legacy cleanup', () => {
  it('removes pre-2020 leftovers and keeps everything else', async () => {
    const varDir = await tempDir();
    await mkdir(join(varDir, 'config.d'));
    await mkdir(join(varDir, 'sources.d'));
    const leftovers = [
      'rsyncd.conf',
      'rsyncd.secrets',
      'config.d/10-restore.json',
      'sources.d/10-etc.json',
      'sources.d/10-home.json',
    ];
    for (const name of [...leftovers, 'config.d/10-machine_uuid.json']) await writeFile(join(varDir, name), '{}');

    const removed = await cleanUpLegacyState(varDir, ['etc', 'home', '../x']);
    expect(removed.sort()).toEqual([...leftovers, 'sources.d'].map((name) => join(varDir, name)).sort());
    expect(existsSync(join(varDir, 'config.d', '10-machine_uuid.json'))).toBe(true);
    expect(await cleanUpLegacyState(varDir, ['etc'])).toEqual([]);
  });

  it('keeps a legacy sources.d that still holds other files', async () => {
    const varDir = await tempDir();
    await mkdir(join(varDir, 'sources.d'));
    await writeFile(join(varDir, 'sources.d', '10-etc.json'), '{}');
    await writeFile(join(varDir, 'sources.d', '10-gone.json'), '{}');
    expect(await cleanUpLegacyState(varDir, ['etc'])).toEqual([join(varDir, 'sources.d', '10-etc.json')]);
    expect(existsSync(join(varDir, 'sources.d', '10-gone.json'))).toBe(true);
  });
});
