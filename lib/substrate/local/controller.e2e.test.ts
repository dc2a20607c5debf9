// The local controller as a user meets it: `turku-local` run as separate processes against a
// detached controller on a throwaway base directory (root: namespaces, sshd). Uses the built
// CLI (npm run build first).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

import { parseJujuStatus } from '../juju-status.js';
import { isAlive } from '../../../tests/support/processes.js';

const CLI = fileURLToPath(new URL('../../../dist/lib/substrate/local/cli-main.js', import.meta.url));
const DEMO = fileURLToPath(new URL('../../../dist/lib/substrate/local/demo-main.js', import.meta.url));
const MODEL = 'ctl-e2e';
const OTHER = 'ctl-e2e-down';

let baseDir: string;

function turkuLocal(...args: string[]) {
  return inModel(MODEL, ...args);
}

function inModel(model: string, ...args: string[]) {
  return execa(process.execPath, [CLI, '--base-dir', baseDir, '-m', model, ...args], {
    reject: false,
    stdin: 'ignore',
  });
}

async function statusJson(): Promise<unknown> {
  const result = await turkuLocal('status', '--format', 'json');
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as unknown;
}

/** The raw answer to one line on the socket. */
function rawRequest(socket: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = createConnection(socket, () => client.write(line));
    let text = '';
    client.on('data', (chunk) => (text += String(chunk)));
    client.on('end', () => resolve(text));
    client.on('error', reject);
  });
}

describe('turku-local and its controller', () => {
  beforeAll(async () => {
    // Not under /tmp: sshd's StrictModes wants root-owned, not world-writable parents.
    baseDir = await mkdtemp('/var/lib/turku-local-e2e-');
  });
  afterAll(async () => {
    // Whatever a failed test left: its controller, machines and network too, not only the files.
    for (const model of [MODEL, OTHER]) await inModel(model, 'destroy-model', model, '--no-prompt');
    await rm(baseDir, { recursive: true, force: true });
  });

  it('with no controller: one ERROR line and a non-zero exit', async () => {
    const result = await turkuLocal('status');
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^ERROR model "ctl-e2e" not found/)]);
  });

  it('bootstrap starts a detached controller on a root-only socket, with its pid and log', async () => {
    const result = await turkuLocal('bootstrap');
    expect(result.exitCode).toBe(0);
    const dir = join(baseDir, MODEL);
    expect((await stat(join(dir, 'controller.sock'))).mode & 0o777).toBe(0o600);
    const pid = Number(await readFile(join(dir, 'controller.pid'), 'utf8'));
    expect(isAlive(pid)).toBe(true);
    expect(await readFile(join(dir, 'controller.log'), 'utf8')).toMatch(/serving model ctl-e2e/);
  });

  it('bad requests get a clear error, and the controller goes on', async () => {
    const socket = join(baseDir, MODEL, 'controller.sock');
    expect(JSON.parse(await rawRequest(socket, 'hello\n'))).toEqual({ ok: false, error: 'bad request: not JSON' });
    expect(JSON.parse(await rawRequest(socket, '{"op":"add-unit"}\n'))).toEqual({
      ok: false,
      error: expect.stringMatching(/^bad request at app: /),
    });
    expect(JSON.parse(await rawRequest(socket, '{"op":"launch"}\n'))).toMatchObject({ ok: false });
    const unknown = await turkuLocal('remove-unit', 'nothing/7');
    expect([unknown.exitCode, unknown.stderr.trim()]).toEqual([
      1,
      'ERROR removing unit nothing/7 failed: unit "nothing/7" does not exist',
    ]);
  });

  it('a controller killed with SIGKILL and started again has the same model, and goes on changing it', async () => {
    expect((await turkuLocal('deploy', 'ubuntu', '-n', '2')).exitCode).toBe(0);
    const before = await statusJson();
    expect(Object.keys(parseJujuStatus(before).units).sort()).toEqual(['ubuntu/0', 'ubuntu/1']);

    const dir = join(baseDir, MODEL);
    const pid = Number(await readFile(join(dir, 'controller.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
    const down = await turkuLocal('status');
    expect(down.stderr).toMatch(/^ERROR no controller is running for model "ctl-e2e"/);

    expect((await turkuLocal('bootstrap')).stderr).toMatch(/^Resumed model "ctl-e2e"/);
    expect(await statusJson()).toEqual(before);
    expect((await turkuLocal('add-unit', 'ubuntu')).exitCode).toBe(0);
    const after = parseJujuStatus(await statusJson());
    expect(after.units['ubuntu/2']).toMatchObject({ workload: 'active', machine: '2' });
    // The machines made before the kill are still reachable where they were.
    const exec = await turkuLocal('exec', '--unit', 'ubuntu/0', '--', 'ip -4 -o addr show scope global');
    expect(exec.stdout).toContain(parseJujuStatus(before).units['ubuntu/0']!.address);
    // ssh: a shell in the machine's namespace, starting in its root, MACHINE_ROOT pointing there.
    const ssh = await turkuLocal('ssh', 'ubuntu/1', 'echo "$MACHINE_ROOT"; pwd; ip -4 -o addr show scope global');
    const root = join(dir, 'machines', '1');
    expect(ssh.stdout).toMatch(new RegExp(`^${root}\\n${root}\\n`));
    expect(ssh.stdout).toContain(parseJujuStatus(before).units['ubuntu/1']!.address);
  });

  it('destroy-model stops the controller and leaves no process, namespace or file', async () => {
    await expectGoneAfter(MODEL, () => turkuLocal('destroy-model', MODEL, '--no-prompt'));
  });

  it('npm run demo:down (demo-main.js down) does the same for a model with a running machine', async () => {
    expect(await inModel(OTHER, 'bootstrap')).toMatchObject({ exitCode: 0 });
    expect(await inModel(OTHER, 'deploy', 'ubuntu')).toMatchObject({
      exitCode: 0,
      stderr: expect.stringMatching(/^Deployed/),
    });
    await expectGoneAfter(OTHER, () =>
      execa(process.execPath, [DEMO, 'down', '--model', OTHER, '--base-dir', baseDir], {
        stdin: 'ignore',
        reject: false,
      }),
    );
  });
});

/** After `remove`, the model's controller, sshds, namespaces, bridge and directory are gone. */
async function expectGoneAfter(
  model: string,
  remove: () => Promise<{ exitCode?: number; stderr: string }>,
): Promise<void> {
  const dir = join(baseDir, model);
  const pid = Number(await readFile(join(dir, 'controller.pid'), 'utf8'));
  const substrate = JSON.parse(await readFile(join(dir, 'substrate.json'), 'utf8')) as { subnet: { tag: string } };
  const namespace = `-${substrate.subnet.tag}-`;
  const before = await execa('ip', ['netns', 'list']);
  expect(before.stdout).toContain(namespace);
  expect(await remove()).toMatchObject({ exitCode: 0, stderr: expect.not.stringMatching(/ERROR|turku-local:/) });
  expect(isAlive(pid)).toBe(false);
  expect(existsSync(dir)).toBe(false);
  expect((await execa('ip', ['netns', 'list'])).stdout).not.toContain(namespace);
  expect((await execa('ip', ['-o', 'link'])).stdout).not.toContain(`tkb${substrate.subnet.tag}`);
  // Nothing runs from the model's directory any more (sshd, the API, hooks).
  expect((await execa('ps', ['-eo', 'args'])).stdout).not.toContain(dir);
}
