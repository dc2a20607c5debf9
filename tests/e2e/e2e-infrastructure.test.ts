import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { createIsolatedHost, probeTcp, probeTcpOutcome, type IsolatedHost } from '../support/netns.js';
import {
  descendantPids,
  distPath,
  freePort,
  isAlive,
  killTree,
  readTcp,
  runNode,
  waitForPort,
} from '../support/processes.js';
import { makeTestRoot, startSshd, TEST_ROOT_BASE, type Sshd, type TestRoot } from '../support/sshd.js';

/**
 * Self-test of the end-to-end infrastructure, with real processes: an isolated host (network
 * namespace) that can connect out but not be connected to, and a real sshd configured as
 * docs/datapath.md, "The storage's sshd" asks, driven by a real ssh client inside the isolated
 * host.
 */

// Generous: a busy machine starts sshd, ssh and node slowly. Waits end as soon as their condition holds.
const TIMEOUT_MS = 120_000;
const LISTEN_TIMEOUT_MS = 30_000;
const READ_TIMEOUT_MS = 30_000;
const INSIDE_PORT = 7777;

let root: TestRoot;
let host: IsolatedHost;
let sshd: Sshd;
let clientKey: string;
let knownHosts: string;
const servers: Server[] = [];

/** A TCP server in this (the root) namespace that sends `reply` to whoever connects, and notes where they came from. */
async function replyServer(address: string, reply: string): Promise<{ port: number; peers: string[] }> {
  const peers: string[] = [];
  const server = createServer((socket) => {
    peers.push(socket.remoteAddress ?? '?');
    // Probes reset the connection straight away.
    socket.on('error', () => undefined);
    socket.end(reply);
  });
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, address, () => resolve());
  });
  const bound = server.address();
  if (typeof bound !== 'object' || bound === null) throw new Error('server has no address');
  return { port: bound.port, peers };
}

/**
 * The same, inside the isolated host, as a separate node process; resolves once it accepts connections. Callers must
 * not race it: a tunnel whose far end is not listening yet carries a connection that closes at once, reading "".
 */
async function replyServerInside(
  address: string,
  port: number,
  reply: string,
): Promise<{ readonly subprocess: ResultPromise }> {
  const script = [
    'const [address, port, reply] = process.argv.slice(1);',
    "require('net').createServer((s) => s.on('error', () => {}).end(reply)).listen(Number(port), address);",
  ].join('\n');
  const server = host.spawn([process.execPath, '-e', script, address, String(port), reply]);
  try {
    const probeAddress = address === '0.0.0.0' ? '127.0.0.1' : address;
    await waitForPort(probeAddress, port, LISTEN_TIMEOUT_MS, { netns: host.name, exited: server });
  } catch (error) {
    await stopAll([server]);
    throw error;
  }
  // Wrapped: returned bare, the subprocess (a promise of its exit) would be awaited until the server exits.
  return { subprocess: server };
}

/**
 * ssh as an agent runs it (docs/datapath.md, "The SSH client"): from inside the isolated host, host
 * key pinned, batch mode.
 */
function sshArgv(args: readonly string[], target: Sshd = sshd): string[] {
  return [
    ...['ssh', '-F', '/dev/null', '-T'],
    ...['-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'GlobalKnownHostsFile=/dev/null'],
    ...['-o', 'StrictHostKeyChecking=yes', '-o', 'CheckHostIP=no', '-o', 'ConnectTimeout=30'],
    ...['-i', clientKey, '-p', String(target.port), '-l', target.pingUser ?? 'root'],
    ...args,
  ];
}

async function ssh(args: readonly string[], target: Sshd = sshd) {
  return host.exec(sshArgv(args, target), { stdin: 'ignore', timeout: 60_000 });
}

async function stopAll(processes: ResultPromise[]): Promise<void> {
  await Promise.all(processes.map(async (subprocess) => subprocess.pid !== undefined && killTree(subprocess.pid)));
  await Promise.all(processes);
}

beforeAll(async () => {
  root = await makeTestRoot('e2e-infrastructure');
  host = await createIsolatedHost();
  const agentDir = join(root.path, 'agent');
  const storageDir = join(root.path, 'storage');
  await mkdir(agentDir, { mode: 0o700 });
  await mkdir(join(storageDir, 'ssh'), { recursive: true, mode: 0o700 });
  clientKey = join(agentDir, 'ssh_key');
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'turku (infra/0)', '-f', clientKey]);
  const publicKey = (await readFile(`${clientKey}.pub`, 'utf8')).trim();
  const authorizedKeysFile = join(storageDir, 'ssh', 'authorized_keys');
  await writeFile(
    authorizedKeysFile,
    `restrict,port-forwarding,permitlisten="localhost:*",command="/bin/echo forced $SSH_ORIGINAL_COMMAND" ${publicKey}\n`,
    { mode: 0o600 },
  );
  sshd = await startSshd({ dir: join(storageDir, 'sshd'), listenAddress: host.hostAddress, authorizedKeysFile });
  knownHosts = join(agentDir, 'known_hosts');
  await writeFile(knownHosts, sshd.knownHosts());
}, TIMEOUT_MS);

afterAll(async () => {
  await Promise.allSettled([host?.destroy(), sshd?.stop()]);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await root?.cleanup();
}, TIMEOUT_MS);

describe('isolated host', () => {
  test('has its veth /30, loopback, a default route via the host side, and the ingress-dropping firewall', async () => {
    expect(host.name).toMatch(/^turku-e2e-[0-9a-f]{4}$/);
    expect(host.hostAddress).toMatch(/^10\.\d+\.\d+\.1$/);
    expect(host.nsAddress).toBe(host.hostAddress.replace(/\.1$/, '.2'));
    const addresses = await host.exec(['ip', '-4', '-o', 'addr', 'show']);
    expect(addresses.stdout).toContain(`${host.nsAddress}/30`);
    expect(addresses.stdout).toMatch(/\blo\s+inet 127\.0\.0\.1\/8/);
    expect((await host.exec(['ip', 'route', 'show', 'default'])).stdout).toContain(`via ${host.hostAddress}`);
    const rules = await host.exec(['iptables', '-S', 'INPUT']);
    expect(rules.stdout.split('\n')).toEqual(
      expect.arrayContaining([
        '-P INPUT DROP',
        '-A INPUT -i lo -j ACCEPT',
        '-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
      ]),
    );
    expect((await host.exec(['ip6tables', '-S', 'INPUT'])).stdout).toContain('-P INPUT DROP');
    const rootAddresses = await execa('ip', ['-4', '-o', 'addr', 'show', 'dev', host.hostInterface]);
    expect(rootAddresses.stdout).toContain(`${host.hostAddress}/30`);
  });

  test('(a) a process inside connects out to a listener on the host side and gets its data', async () => {
    const server = await replyServer(host.hostAddress, 'hello from the host');
    expect(await readTcp(host.hostAddress, server.port, READ_TIMEOUT_MS, { netns: host.name })).toBe(
      'hello from the host',
    );
    expect(server.peers).toEqual([host.nsAddress]);
  });

  test(
    '(b) nothing outside can connect in, though the listener exists and answers inside',
    async () => {
      const { subprocess: listener } = await replyServerInside('0.0.0.0', INSIDE_PORT, 'inside');
      try {
        expect(await probeTcp(host, '127.0.0.1', INSIDE_PORT, READ_TIMEOUT_MS)).toBe(true);
        expect(await readTcp(host.nsAddress, INSIDE_PORT, READ_TIMEOUT_MS, { netns: host.name })).toBe('inside');
        // From the root namespace the SYN is dropped: no answer at all, not even a refusal.
        expect(await probeTcpOutcome('root', host.nsAddress, INSIDE_PORT, 1_000)).toBe('timeout');
        expect(await probeTcp('root', host.nsAddress, INSIDE_PORT, 300)).toBe(false);
      } finally {
        await stopAll([listener]);
      }
    },
    TIMEOUT_MS,
  );

  test(
    'hosts made at once get their own names and subnets; destroy kills what runs inside, removes all, is idempotent',
    async () => {
      const [first, second] = await Promise.all([createIsolatedHost(), createIsolatedHost()]);
      const sleeper = first.spawn(['sleep', '300']);
      const pid = sleeper.pid ?? -1;
      expect(isAlive(pid)).toBe(true);
      expect(new Set([host.name, first.name, second.name]).size).toBe(3);
      expect(new Set([host.hostAddress, first.hostAddress, second.hostAddress]).size).toBe(3);
      await Promise.all([first.destroy(), first.destroy(), second.destroy()]);
      await first.destroy();
      expect(isAlive(pid)).toBe(false);
      expect((await sleeper).isTerminated).toBe(true);
      const namespaces = (await execa('ip', ['netns', 'list'])).stdout;
      for (const gone of [first, second]) {
        expect(namespaces).not.toContain(gone.name);
        expect((await execa('ip', ['link', 'show', gone.hostInterface], { reject: false })).exitCode).not.toBe(0);
      }
      expect(() => first.spawn(['true'])).toThrow(/destroyed/);
    },
    TIMEOUT_MS,
  );
});

describe('process helpers', () => {
  test('runNode runs a script with this node; killTree kills a process and everything it started', async () => {
    expect(distPath('lib/agent/ping-main.js')).toMatch(/\/dist\/lib\/agent\/ping-main\.js$/);
    const script = join(root.path, 'hello.mjs');
    await writeFile(script, 'process.stdout.write(`hello ${process.argv[2]} from ${process.version}`);\n');
    expect((await runNode(script, ['world'])).stdout).toBe(`hello world from ${process.version}`);

    const tree = execa('sh', ['-c', 'sleep 300 & sleep 300 & wait'], { reject: false });
    const pid = tree.pid ?? -1;
    let children: number[] = [];
    for (const deadline = Date.now() + 30_000; children.length < 2 && Date.now() < deadline;) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      children = descendantPids(pid);
    }
    expect(children).toHaveLength(2);
    await killTree(pid);
    expect([pid, ...children].filter(isAlive)).toEqual([]);
    expect((await tree).isTerminated).toBe(true);
  });
});

describe('sshd', () => {
  test('runs with its own host key, pid file, log and test root (which passes StrictModes)', async () => {
    expect(root.path.startsWith(`${TEST_ROOT_BASE}/`)).toBe(true);
    expect(statSync(TEST_ROOT_BASE).mode & 0o7777).toBe(0o755);
    expect(sshd.address).toBe(host.hostAddress);
    expect(sshd.hostPublicKeys).toEqual([expect.stringMatching(/^ssh-ed25519 AAAA\S+ turku-test-sshd$/)]);
    expect(sshd.hostKeyGlob).toBe(join(root.path, 'storage', 'sshd', 'ssh_host_*_key.pub'));
    expect(Number(await readFile(join(root.path, 'storage', 'sshd', 'sshd.pid'), 'utf8'))).toBe(sshd.pid);
    expect(sshd.logs()).toContain(`Server listening on ${host.hostAddress} port ${sshd.port}.`);
    expect(existsSync(sshd.logFile)).toBe(true);
    // The effective configuration for the ping user, as sshd itself resolves it.
    const effective = await execa('/usr/sbin/sshd', [
      ...['-T', '-f', sshd.configFile, '-C', `user=${sshd.pingUser ?? 'root'},host=agent,addr=${host.nsAddress}`],
    ]);
    for (const line of [
      'allowtcpforwarding remote',
      'x11forwarding no',
      'allowagentforwarding no',
      'permittty no',
      'permitrootlogin forced-commands-only',
      'passwordauthentication no',
      'kbdinteractiveauthentication no',
      'strictmodes yes',
      'usepam no',
      'loglevel VERBOSE',
    ]) {
      expect(effective.stdout.split('\n')).toContain(line);
    }
  });

  test('(c) the key gets the forced command, whatever command it asks for; the host key is pinned', async () => {
    const ping = await ssh([host.hostAddress, 'turku-ping-remote']);
    expect(ping).toMatchObject({ exitCode: 0, stdout: 'forced turku-ping-remote' });
    const other = await ssh([host.hostAddress, 'id; echo INJECTED']);
    expect(other.exitCode).toBe(0);
    expect(other.stdout).toBe('forced id; echo INJECTED');
    expect(other.stdout).not.toMatch(/uid=/);
    await sshd.waitForLog(/Starting session: forced-command \(key-option\)/);

    // Pinning works: with another key in known_hosts the client refuses to go on.
    const otherKey = join(root.path, 'agent', 'other_host_key');
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const wrongKnownHosts = join(root.path, 'agent', 'wrong_known_hosts');
    await writeFile(wrongKnownHosts, `${host.hostAddress} ${(await readFile(`${otherKey}.pub`, 'utf8')).trim()}\n`);
    const argv = sshArgv([host.hostAddress, 'turku-ping-remote']).map((arg) =>
      arg === `UserKnownHostsFile=${knownHosts}` ? `UserKnownHostsFile=${wrongKnownHosts}` : arg,
    );
    const refused = await host.exec(argv, { stdin: 'ignore', timeout: 60_000 });
    expect(refused.exitCode).toBe(255);
    expect(refused.stderr).toContain('Host key verification failed');
  });

  test(
    '(c) -R without a bind address works and carries data; with any bind address it is refused',
    async () => {
      const port = await freePort('127.0.0.1');
      const once = await ssh([
        '-o',
        'ExitOnForwardFailure=yes',
        '-R',
        `${port}:127.0.0.1:${port}`,
        host.hostAddress,
        'x',
      ]);
      expect(once).toMatchObject({ exitCode: 0, stdout: 'forced x' });
      expect(once.stderr).not.toContain('remote port forwarding failed');

      const refusals = await Promise.all(
        ['0.0.0.0', '127.0.0.1', host.hostAddress, host.nsAddress].map((bind) =>
          ssh(['-o', 'ExitOnForwardFailure=yes', '-R', `${bind}:${port}:127.0.0.1:${port}`, host.hostAddress, 'x']),
        ),
      );
      for (const refused of refusals) {
        expect(refused.exitCode).toBe(255);
        expect(refused.stderr).toContain('remote port forwarding failed');
        expect(refused.stdout).toBe('');
      }
      await sshd.waitForLog(
        new RegExp(`remote forward to host 0\\.0\\.0\\.0 port ${port}, but the request was denied`),
      );

      // The data path: a tunnel held open (-N), the storage side connects to 127.0.0.1:<port> and reaches the agent.
      // The agent's service listens before the tunnel opens, as the agent's own service does.
      const { subprocess: agentService } = await replyServerInside('127.0.0.1', port, 'through the tunnel');
      const tunnel = host.spawn(
        sshArgv(['-N', '-o', 'ExitOnForwardFailure=yes', '-R', `${port}:127.0.0.1:${port}`, host.hostAddress]),
      );
      try {
        await waitForPort('127.0.0.1', port, LISTEN_TIMEOUT_MS, { exited: tunnel });
        expect(await readTcp('127.0.0.1', port, READ_TIMEOUT_MS)).toBe('through the tunnel');
        // The forward listens on the storage's loopback only.
        expect(await probeTcpOutcome('root', host.hostAddress, port, 1_000)).toBe('refused');
      } finally {
        await stopAll([tunnel, agentService]);
      }
    },
    TIMEOUT_MS,
  );

  test(
    '(c) -L is refused by the Match block (AllowTcpForwarding remote), though the key options alone would allow it',
    async () => {
      // Something only the storage can reach: its own loopback.
      const secret = await replyServer('127.0.0.1', 'storage loopback');
      expect(await readTcp('127.0.0.1', secret.port)).toBe('storage loopback');
      expect(await probeTcp(host, '127.0.0.1', secret.port, 500)).toBe(false);

      // The same key options on an sshd with OpenSSH's default TCP forwarding and without the Match block (same host
      // keys), as on a storage that skipped the advice: -L goes through.
      const lax = await startSshd({
        dir: join(root.path, 'lax-sshd'),
        listenAddress: host.hostAddress,
        authorizedKeysFile: join(root.path, 'storage', 'ssh', 'authorized_keys'),
        hostKeyDir: join(root.path, 'storage', 'sshd'),
        pingUser: null,
        extraConfig: 'AllowTcpForwarding yes',
      });
      expect(lax.hostPublicKeys).toEqual(sshd.hostPublicKeys);
      const [strictPort, laxPort] = [INSIDE_PORT + 1, INSIDE_PORT + 2];
      const forwards = [
        host.spawn(sshArgv(['-N', '-L', `${strictPort}:127.0.0.1:${secret.port}`, host.hostAddress], sshd)),
        host.spawn(sshArgv(['-N', '-L', `${laxPort}:127.0.0.1:${secret.port}`, host.hostAddress], lax)),
      ];
      try {
        await Promise.all(
          [strictPort, laxPort].map((port, index) =>
            waitForPort('127.0.0.1', port, LISTEN_TIMEOUT_MS, { netns: host.name, exited: forwards[index] }),
          ),
        );
        expect(await readTcp('127.0.0.1', laxPort, READ_TIMEOUT_MS, { netns: host.name })).toBe('storage loopback');
        expect(await readTcp('127.0.0.1', strictPort, READ_TIMEOUT_MS, { netns: host.name })).toBe('');
        await sshd.waitForLog(new RegExp(`refused local port forward: .* target 127\\.0\\.0\\.1 port ${secret.port}`));
      } finally {
        await stopAll(forwards);
        await lax.stop();
      }
    },
    TIMEOUT_MS,
  );
});
