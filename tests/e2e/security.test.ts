import { jest } from '@jest/globals';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { listBackups } from '../../lib/api/admin/commands.js';
import { Store } from '../../lib/api/store.js';
import {
  createWorld,
  type AgentUnit,
  type RunResult,
  type StorageUnit,
  type World,
} from '../support/datapath-world.js';
import { probeTcp } from '../support/netns.js';
import { writeSampleTree } from '../support/datasets.js';

/**
 * What an agent's key allows on its storage, tried with the real ssh client from the agent's
 * machine: its tunnel and nothing else. And no way in to the agent from outside.
 */

jest.setTimeout(120_000);

let world: World;
let storage: StorageUnit;
let alice: AgentUnit;
let bob: AgentUnit;

beforeAll(async () => {
  world = await createWorld('security');
  storage = await world.addStorage('primary');
  alice = await world.addAgent('alice');
  bob = await world.addAgent('bob');
  for (const [agent, source] of [
    [alice, 'ledger'],
    [bob, 'notes'],
  ] as const) {
    const data = join(world.root, source);
    await writeSampleTree(data);
    await agent.setSources({ [source]: { path: data } });
  }
  expect((await storage.updateConfig()).exitCode).toBe(0);
  expect((await alice.updateConfig()).exitCode).toBe(0);
  expect((await bob.updateConfig()).exitCode).toBe(0);
  expect((await storage.updateConfig()).exitCode).toBe(0);
  await world.trigger(alice, 'ledger');
  expect((await alice.ping()).exitCode).toBe(0);
});
afterAll(() => world?.destroy());

/** The real ssh client on the agent's machine with the agent's key and the pinned host key. */
async function sshAs(agent: AgentUnit, args: string[], input = ''): Promise<RunResult> {
  const knownHosts = join(agent.varDir, 'test_known_hosts');
  await mkdir(agent.varDir, { recursive: true });
  await writeFile(knownHosts, storage.sshd.hostPublicKeys.map((key) => `${world.hostAddress} ${key}\n`).join(''));
  const result = await agent.host.exec(
    [
      'ssh',
      '-o',
      'BatchMode=yes',
      '-o',
      `UserKnownHostsFile=${knownHosts}`,
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'ExitOnForwardFailure=yes',
      '-i',
      join(agent.varDir, 'ssh_key'),
      '-p',
      String(storage.sshd.port),
      '-l',
      'root',
      ...args,
    ],
    { input, timeout: 30_000 },
  );
  return { exitCode: result.exitCode ?? -1, stdout: String(result.stdout), stderr: String(result.stderr) };
}

test('no ingress: nothing outside can connect to the agent machine, though it connects out', async () => {
  const listener = alice.host.spawn([
    process.execPath,
    '-e',
    "require('net').createServer(s=>{s.on('error',()=>{});s.end('hi')}).listen(7777)",
  ]);
  listener.catch(() => undefined);
  try {
    // Reachable from inside once it listens...
    await waitFor(() => probeTcp(alice.host, '127.0.0.1', 7777, 500));
    // ...and never from outside.
    expect(await probeTcp('root', alice.host.nsAddress, 7777, 1500)).toBe(false);
  } finally {
    listener.kill();
  }
});

test('the key cannot get a shell or run another command: the forced command runs instead', async () => {
  const shell = await sshAs(alice, ['-T', world.hostAddress, 'id; echo INJECTED']);
  expect(shell.stdout).not.toMatch(/uid=|INJECTED/);
  expect(shell.stderr).toContain('session aborted');
  const pty = await sshAs(alice, ['-tt', world.hostAddress, '/bin/sh']);
  expect(pty.stdout + pty.stderr).toContain('PTY allocation request failed');
  expect(pty.stdout).not.toMatch(/uid=|# $/);
});

test('the key cannot listen on a non-loopback address, and can listen on loopback', async () => {
  for (const bind of ['0.0.0.0', world.hostAddress, '*']) {
    const refused = await sshAs(alice, ['-T', '-R', `${bind}:61001:127.0.0.1:61001`, world.hostAddress, 'x']);
    expect(refused.exitCode).toBe(255);
    expect(refused.stderr).toContain('remote port forwarding failed');
  }
  // On loopback, the key may listen on its machine's own tunnel ports (tests/e2e/probe-tunnel-ports.test.ts).
  const uuid = await alice.uuid();
  const machine = await world.api.api.ctx.db.transaction((tx) => new Store(tx).machineByUuid(uuid));
  const port = machine!.tunnel_ports![0]!;
  const loopback = await sshAs(alice, ['-T', '-R', `${port}:127.0.0.1:${port}`, world.hostAddress, 'x'], '');
  expect(loopback.stderr).not.toContain('remote port forwarding failed');
  expect(loopback.stderr).toContain('session aborted');
});

test('the key cannot forward to anything else', async () => {
  // A local forward to the API through the storage: the channel is refused by sshd.
  const apiPort = new URL(world.api.url).port;
  const forward = alice.host.spawn([
    'ssh',
    '-N',
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${join(alice.varDir, 'test_known_hosts')}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-i',
    join(alice.varDir, 'ssh_key'),
    '-p',
    String(storage.sshd.port),
    '-l',
    'root',
    '-L',
    `17000:127.0.0.1:${apiPort}`,
    world.hostAddress,
  ]);
  forward.catch(() => undefined);
  try {
    await waitFor(() => probeTcp(alice.host, '127.0.0.1', 17000, 500));
    const attempt = await alice.host.exec([
      process.execPath,
      '-e',
      "const s=require('net').connect(17000,'127.0.0.1',()=>s.write('GET /v1/health HTTP/1.0\\r\\n\\r\\n'));let d='';s.on('data',c=>d+=c);s.on('close',()=>{process.stdout.write(d);});s.on('error',()=>{});",
    ]);
    expect(String(attempt.stdout)).not.toContain('HTTP/1');
  } finally {
    forward.kill();
  }
});

test("one machine's key cannot touch another machine's data", async () => {
  // Bob asks for Alice's source by name: his forced command only looks at his own machine.
  const target = join(world.root, 'bob-restore');
  const theft = await bob.ping('--restore', '--restore-source', 'ledger', '--restore-target', target);
  expect(theft.exitCode).toBe(1);
  expect(theft.stderr).toContain('No backups of source "ledger"');
});

test("a session cannot be served another machine's tunnel: the storage checks who owns the port", async () => {
  // Bob holds a restore session, so his tunnel listens on the storage's loopback.
  const session = bob.spawnPing('--restore', '--restore-timeout', '60');
  let stdout = '';
  session.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  session.catch(() => undefined);
  try {
    await waitFor(() => /@127\.0\.0\.1:(\d+)\/turku-restore\//.test(stdout));
    const port = /@127\.0\.0\.1:(\d+)\/turku-restore\//.exec(stdout)![1]!;
    await waitFor(() => probeTcp('root', '127.0.0.1', Number(port), 500));
    // Alice's key, with a request that points at Bob's tunnel instead of opening her own.
    await world.trigger(alice, 'ledger');
    const request = `{"verbose": true, "port": ${port}, "sources": {"ledger": {"username": "u", "password": "p"}}}\n.\n`;
    const forged = await sshAs(alice, ['-T', world.hostAddress, 'turku-ping-remote'], request);
    expect(forged.stderr).toContain(`Tunnel on port ${port} is not owned by this session`);
    const [report] = await listBackups(world.api.api.ctx, 1);
    expect(report).toMatchObject({
      source: 'ledger',
      success: false,
      summary: `Tunnel on port ${port} is not owned by this session`,
    });
  } finally {
    session.kill('SIGTERM');
  }
});

async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
