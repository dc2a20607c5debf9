import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { type Socket } from 'node:net';
import { userInfo } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { storageSshdSettings } from '../../lib/storage/sshd-settings.js';
import { delay, freePort, isAlive, killTree, onProcessExit, signalTree, waitForPort } from './processes.js';

/**
 * Real OpenSSH servers for the end-to-end tests, one per storage unit: `/usr/sbin/sshd -D -e` with
 * a config, host key, port and pid file of its own, configured the way
 * docs/datapath.md, "The storage's sshd" asks storages to be (public keys only, root only with a
 * forced command, and a `Match User` block that allows remote forwarding only). sshd's log (stderr,
 * LogLevel VERBOSE) is kept in memory and in `<dir>/sshd.log` for assertions.
 *
 * sshd checks the authorized_keys file with StrictModes: the file and every directory on its path must be owned by
 * root or the user and not group- or world-writable. /tmp is 1777, so nothing under it passes: put the storage's
 * files under {@link makeTestRoot} instead.
 */

export interface SshdOptions {
  /** Working directory for the config, pid file, log and (by default) host keys; created when missing. */
  readonly dir: string;
  /** The address to listen on (an isolated host's hostAddress, or 127.0.0.1). */
  readonly listenAddress: string;
  /** Absolute path of the authorized_keys file; it need not exist yet (sshd reads it at each login). */
  readonly authorizedKeysFile: string;
  /** Where the host keys are: an existing `ssh_host_ed25519_key` is reused, else one is generated. Default: dir. */
  readonly hostKeyDir?: string;
  /**
   * The ping user the `Match User` block (AllowTcpForwarding remote, no X11, agent forwarding or TTY) applies to.
   * Default: the user running the tests (root). null: no Match block (everyone gets the global settings, which deny
   * all forwarding; add `AllowTcpForwarding yes` in extraConfig for a storage that skipped the advice).
   */
  readonly pingUser?: string | null;
  /**
   * More sshd_config text. Global keywords in it go first, so they override the defaults here (sshd keeps the first
   * value of a keyword); `Match` blocks in it go last, after the ping user's block.
   */
  readonly extraConfig?: string;
  /** The ping user's UnusedConnectionTimeout instead of the storages' (tests that watch a `-N` login closed). */
  readonly unusedConnectionTimeoutSeconds?: number;
  /** A fixed port instead of a free one. */
  readonly port?: number;
  /** How long to wait for sshd to accept connections (default 15 s). */
  readonly readyTimeoutMs?: number;
}

export interface Sshd {
  readonly port: number;
  readonly address: string;
  /** The user the ping-user Match block applies to (null when there is none). */
  readonly pingUser: string | null;
  readonly pid: number;
  readonly configFile: string;
  readonly logFile: string;
  /** Contents of the host keys' `.pub` files, trimmed (`ssh-ed25519 AAAA… comment`). */
  readonly hostPublicKeys: string[];
  /** A glob matching those `.pub` files, the form of the storage's `ssh_ping_host_keys_glob`. */
  readonly hostKeyGlob: string;
  /**
   * known_hosts text pinning this server: one `<host> <key>` line per host key, the agent's format
   * (docs/datapath.md, "The SSH client"). OpenSSH 9.2 accepts such port-less lines for a server on
   * another port than 22 as well.
   */
  knownHosts(host?: string): string;
  /** Everything sshd logged so far. */
  logs(): string;
  /** Waits until the log matches, returning the matching line (or the log); throws after timeoutMs (default 5 s). */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGTERM to sshd and its session processes (SIGKILL after a grace period); waits for them. Idempotent. */
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';
const PRIVSEP_DIR = '/run/sshd';
const HOST_KEY = 'ssh_host_ed25519_key';
const PORT_RETRIES = 3;
const READY_TIMEOUT_MS = 15_000;
const LOG_LIMIT_CHARS = 4_000_000;
const INSTALL_HINT = 'install the Debian `openssh-server` package';

export async function startSshd(options: SshdOptions): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`No ${SSHD}: ${INSTALL_HINT}.`);
  const dir = options.dir;
  const keyDir = options.hostKeyDir ?? dir;
  for (const path of [dir, keyDir, options.authorizedKeysFile]) {
    if (!isAbsolute(path)) throw new Error(`sshd paths must be absolute: ${path}`);
    if (/[\s"'\\%#]/.test(path)) throw new Error(`sshd path with a character sshd_config would mangle: ${path}`);
  }
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await mkdir(keyDir, { recursive: true, mode: 0o755 });
  // The privilege separation directory; Debian's init scripts create it, and there are none here.
  await mkdir(PRIVSEP_DIR, { recursive: true, mode: 0o755 });

  const hostKey = join(keyDir, HOST_KEY);
  if (!existsSync(hostKey)) {
    await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'turku-test-sshd', '-f', hostKey], {
      stdin: 'ignore',
    });
  }
  const keyFiles = (await readdir(keyDir)).filter((name) => /^ssh_host_\w+_key$/.test(name)).sort();
  const hostPublicKeys = await Promise.all(
    keyFiles.map(async (name) => (await readFile(join(keyDir, `${name}.pub`), 'utf8')).trim()),
  );
  const pingUser = options.pingUser === undefined ? userInfo().username : options.pingUser;
  const configFile = join(dir, 'sshd_config');
  const logFile = join(dir, 'sshd.log');
  const pidFile = join(dir, 'sshd.pid');

  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort(options.listenAddress));
    const config = renderConfig({
      listen: `${options.listenAddress.includes(':') ? `[${options.listenAddress}]` : options.listenAddress}:${port}`,
      hostKeys: keyFiles.map((name) => join(keyDir, name)),
      pidFile,
      authorizedKeysFile: options.authorizedKeysFile,
      pingUser,
      extraConfig: options.extraConfig ?? '',
      unusedConnectionTimeoutSeconds: options.unusedConnectionTimeoutSeconds,
    });
    await writeFile(configFile, config, { mode: 0o644 });
    const started = await launch({
      configFile,
      logFile,
      address: options.listenAddress,
      port,
      readyTimeoutMs: options.readyTimeoutMs ?? READY_TIMEOUT_MS,
    });
    if (started.kind === 'running') {
      return {
        ...started.server,
        pingUser,
        configFile,
        logFile,
        hostPublicKeys,
        hostKeyGlob: join(keyDir, 'ssh_host_*_key.pub'),
        knownHosts: (host = options.listenAddress) => hostPublicKeys.map((key) => `${host} ${key}\n`).join(''),
      };
    }
    if (started.kind === 'port-taken' && options.port === undefined && attempt < PORT_RETRIES) continue;
    throw new Error(started.message);
  }
}

function renderConfig(settings: {
  listen: string;
  hostKeys: readonly string[];
  pidFile: string;
  authorizedKeysFile: string;
  pingUser: string | null;
  extraConfig: string;
  unusedConnectionTimeoutSeconds: number | undefined;
}): string {
  // sshd keeps the first value it reads for a keyword, and a Match block lasts until the next Match: the caller's
  // global keywords go first (to override ours), their Match blocks last.
  const extra = settings.extraConfig.replace(/\r\n/g, '\n');
  const matchAt = extra.search(/^[ \t]*Match[ \t]/im);
  const extraGlobal = matchAt < 0 ? extra : extra.slice(0, matchAt);
  const extraMatches = matchAt < 0 ? '' : extra.slice(matchAt);
  const lines = [
    '# Written by tests/support/sshd.ts',
    extraGlobal.trim(),
    `ListenAddress ${settings.listen}`,
    ...settings.hostKeys.map((key) => `HostKey ${key}`),
    `PidFile ${settings.pidFile}`,
    ...storageSshdSettings({
      authorizedKeysFile: settings.authorizedKeysFile,
      pingUser: settings.pingUser,
      unusedConnectionTimeoutSeconds: settings.unusedConnectionTimeoutSeconds,
    }),
    extraMatches.trim(),
  ];
  return `${lines.filter((line) => line !== '').join('\n')}\n`;
}

type Launch =
  | {
      readonly kind: 'running';
      readonly server: Pick<Sshd, 'port' | 'address' | 'pid' | 'logs' | 'waitForLog' | 'stop'>;
    }
  | { readonly kind: 'port-taken' | 'failed'; readonly message: string };

async function launch(settings: {
  configFile: string;
  logFile: string;
  address: string;
  port: number;
  readyTimeoutMs: number;
}): Promise<Launch> {
  const { address, port } = settings;
  // -D: stay in the foreground (the pid is sshd's own); -e: log to stderr, which we keep.
  const child = spawn(SSHD, ['-D', '-e', '-f', settings.configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C.UTF-8' },
  });
  let log = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    log = (log + chunk).slice(-LOG_LIMIT_CHARS);
    try {
      appendFileSync(settings.logFile, chunk);
    } catch {
      // the directory may be gone during teardown
    }
  });
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      resolve();
    });
    child.once('error', (error) => {
      if (child.pid === undefined) {
        status = `could not run ${SSHD}: ${error.message}`;
        resolve();
      }
    });
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const pid = child.pid;
  const unregister = pid === undefined ? () => undefined : onProcessExit(() => signalTree(pid, 'SIGKILL'));
  const tail = (): string => log.trimEnd().split('\n').slice(-20).join('\n');
  const failed = async (why: string): Promise<Launch> => {
    if (status === undefined && pid !== undefined) await killTree(pid, { graceMs: 2_000 });
    await Promise.race([closed, delay(1_000)]); // for the last of stderr
    unregister();
    const taken = /Address already in use|Cannot bind any address/.test(log);
    return { kind: taken ? 'port-taken' : 'failed', message: `sshd ${why} (${status ?? 'killed'}):\n${tail()}` };
  };

  // Our own "listening" line first (a port someone else holds would accept connections too), then a real connection.
  const deadline = Date.now() + settings.readyTimeoutMs;
  const listening = new RegExp(`^Server listening on \\S+ port ${port}\\.$`, 'm');
  while (!listening.test(log)) {
    if (status !== undefined) return failed('exited during startup');
    if (Date.now() > deadline) return failed(`did not start listening within ${settings.readyTimeoutMs} ms`);
    await Promise.race([delay(20), exited]);
  }
  try {
    await waitForPort(address, port, Math.max(1_000, deadline - Date.now()), { exited });
  } catch (error) {
    return failed(`did not accept connections: ${(error as Error).message}`);
  }

  // A forgotten server must not keep jest's event loop alive: the exit hook kills it instead.
  child.unref();
  (child.stderr as Socket).unref();
  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    if (status === undefined && pid !== undefined) await killTree(pid);
    await Promise.race([closed, delay(1_000)]);
    unregister();
  };
  const logs = (): string => log;
  return {
    kind: 'running',
    server: {
      port,
      address,
      pid: pid ?? -1,
      logs,
      waitForLog: async (pattern, timeoutMs = 30_000) => {
        const until = Date.now() + timeoutMs;
        for (;;) {
          const match = pattern.exec(log);
          if (match !== null) {
            const start = log.lastIndexOf('\n', match.index) + 1;
            const end = log.indexOf('\n', match.index + match[0].length);
            return log.slice(start, end < 0 ? undefined : end);
          }
          if (Date.now() > until)
            throw new Error(`sshd did not log ${String(pattern)} within ${timeoutMs} ms:\n${tail()}`);
          await delay(20);
        }
      },
      stop: () => (stopping ??= stop()),
    },
  };
}

export interface TestRoot {
  /** The directory (mode 0755, root-owned, on a path with no group- or world-writable directory). */
  readonly path: string;
  /** Removes the directory and everything in it. Idempotent. */
  cleanup(): Promise<void>;
}

/** Where test roots go: not under /tmp, whose mode 1777 fails sshd's StrictModes check of authorized_keys. */
export const TEST_ROOT_BASE = '/var/lib/turku-tests';

/**
 * A private directory for one test's machines (storage and agent files, sshd configs, authorized_keys), under
 * `/var/lib/turku-tests` rather than /tmp. Why: sshd (StrictModes yes, as storages run it) refuses an authorized_keys
 * file when the file or any directory above it is group- or world-writable or owned by someone other than root or the
 * user, and /tmp is 1777. The base is created root-owned 0755 and every ancestor is checked. The directory is removed
 * by cleanup(), at process exit if the test forgot, and by the next makeTestRoot if the process that made it died.
 */
export async function makeTestRoot(prefix: string, options: { readonly base?: string } = {}): Promise<TestRoot> {
  const base = options.base ?? TEST_ROOT_BASE;
  await mkdir(base, { recursive: true, mode: 0o755 });
  const baseStat = statSync(base);
  if (baseStat.uid === process.getuid?.() && (baseStat.mode & 0o022) !== 0) await chmod(base, 0o755);
  for (let path = base; ; path = dirname(path)) {
    const stat = statSync(path);
    if ((stat.mode & 0o022) !== 0 || (stat.uid !== 0 && stat.uid !== process.getuid?.())) {
      throw new Error(
        `${path} is writable by others or not root's (mode ${(stat.mode & 0o7777).toString(8)}, uid ${stat.uid}): ` +
          "sshd's StrictModes would refuse authorized_keys files under it",
      );
    }
    if (path === dirname(path)) break;
  }
  sweepStaleRoots(base);
  const safePrefix = prefix.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40) || 'test';
  const path = await mkdtemp(join(base, `${safePrefix}.${process.pid}.`));
  await chmod(path, 0o755);
  const unregister = onProcessExit(() => rmSync(path, { recursive: true, force: true, maxRetries: 3 }));
  let removing: Promise<void> | undefined;
  return {
    path,
    cleanup: () =>
      (removing ??= (async () => {
        await rm(path, { recursive: true, force: true, maxRetries: 3 });
        unregister();
      })()),
  };
}

const sweptBases = new Set<string>();

/** Removes `<prefix>.<pid>.<random>` roots whose process is gone (a killed run). Once per base and module instance. */
function sweepStaleRoots(base: string): void {
  if (sweptBases.has(base)) return;
  sweptBases.add(base);
  for (const entry of readdirSync(base)) {
    const match = /\.(\d+)\.[A-Za-z0-9]{6}$/.exec(entry);
    if (match === null || isAlive(Number(match[1]))) continue;
    try {
      rmSync(join(base, entry), { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // best effort
    }
  }
}
