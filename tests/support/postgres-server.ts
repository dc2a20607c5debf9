import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import vm from 'node:vm';
import { execa } from 'execa';
import pg from 'pg';
import { freePort } from './processes.js';

/**
 * Throwaway PostgreSQL servers for tests and benchmarks: each one is a fresh cluster (initdb) in a new temporary
 * directory, tuned for speed over durability, and gone again after stop().
 */

export interface PostgresServer {
  readonly url: string;
  /** fast shutdown, then remove the data directory */
  stop(): Promise<void>;
}

let createdDatabases = 0;

/** A fresh, empty database on `server`, named `<prefix>_<pid>_<n>` (unique per process); its name. */
export async function createDatabase(server: PostgresServer, prefix: string): Promise<string> {
  const name = `${prefix}_${process.pid}_${++createdDatabases}`;
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return name;
}

const INSTALL_HINT = 'install the Debian `postgresql` package (apt-get install postgresql)';
const POSTGRES_LIB = '/usr/lib/postgresql';
const SUPERUSER = 'turku';
const DATABASE = 'turku';
const PORT_RETRIES = 3;
const READY_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const SHUTDOWN_GRACE_MS = 10_000;
const STDERR_TAIL_CHARS = 16_384;

/** Where the server binaries are (highest version under /usr/lib/postgresql/<v>/bin), or undefined. */
export function findPostgresBin(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(POSTGRES_LIB).filter((name) => /^\d+(\.\d+)*$/.test(name));
  } catch {
    return undefined;
  }
  versions.sort((a, b) => compareVersions(b, a));
  for (const version of versions) {
    const bin = join(POSTGRES_LIB, version, 'bin');
    if (existsSync(join(bin, 'postgres')) && existsSync(join(bin, 'initdb'))) return bin;
  }
  return undefined;
}

function compareVersions(a: string, b: string): number {
  const as = a.split('.').map(Number);
  const bs = b.split('.').map(Number);
  for (let i = 0; i < Math.max(as.length, bs.length); i++) {
    const difference = (as[i] ?? 0) - (bs[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * Starts a fresh cluster in a new temp directory, listening on 127.0.0.1 on a free port (and a unix socket inside the
 * directory), with trust auth for a superuser `turku` and a database `turku`.
 */
export async function startPostgres(
  options: { readonly settings?: Readonly<Record<string, string>> } = {},
): Promise<PostgresServer> {
  const bin = findPostgresBin();
  if (bin === undefined) {
    throw new Error(`No PostgreSQL server binaries under ${POSTGRES_LIB}/<version>/bin: ${INSTALL_HINT}.`);
  }
  const settings = Object.entries(options.settings ?? {});
  for (const [name] of settings) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) {
      throw new Error(`Not a PostgreSQL setting name: ${JSON.stringify(name)}`);
    }
  }
  const runAs = await serverAccount();
  const dir = await mkdtemp(join(tmpdir(), 'turku-pg-'));
  try {
    if (runAs !== undefined) await chown(dir, runAs.uid, runAs.gid);
    const dataDir = join(dir, 'data');
    const initdb = command(runAs, join(bin, 'initdb'), [
      ...['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8'],
      ...['--no-sync', '--no-instructions'],
    ]);
    await execa(initdb.file, initdb.args, { cwd: dir, env: childEnv(), extendEnv: false, stdin: 'ignore' });
    const args = [
      ...['-D', dataDir, '-h', '127.0.0.1', '-k', dir],
      ...['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      ...settings.flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ];
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const postgres = command(runAs, join(bin, 'postgres'), [...args, '-p', String(port)]);
      const started = await launch(postgres, dir, dataDir, port);
      if (started.kind === 'running') return started.server;
      if (started.kind === 'port-taken' && attempt < PORT_RETRIES) continue;
      throw new Error(started.message);
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    throw error;
  }
}

/** The account to run the server as: PostgreSQL refuses to run as root, so root hands it to `postgres`. */
async function serverAccount(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string): Promise<number> => {
    const { stdout } = await execa('id', [flag, 'postgres'], { reject: false });
    const value = Number.parseInt(stdout, 10);
    if (!Number.isInteger(value)) {
      throw new Error(`Running as root, but there is no \`postgres\` user to run PostgreSQL as: ${INSTALL_HINT}.`);
    }
    return value;
  };
  return { uid: await id('-u'), gid: await id('-g') };
}

/**
 * setpriv (util-linux, always on Debian) execs the binary under the other account, unlike runuser which stays as a
 * parent: so the pid we hold is the postmaster's own, and our signals reach it directly.
 */
function command(runAs: { uid: number; gid: number } | undefined, file: string, args: string[]) {
  if (runAs === undefined) return { file, args };
  return {
    file: 'setpriv',
    args: [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', '--', file, ...args],
  };
}

function childEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && name !== 'LANGUAGE' && !name.startsWith('LC_')) env[name] = value;
  }
  // English messages (the port-taken check reads them) and a locale every Debian system has.
  env.LC_ALL = 'C.UTF-8';
  return env;
}

type Launch =
  | { readonly kind: 'running'; readonly server: PostgresServer }
  | { readonly kind: 'port-taken' | 'failed'; readonly message: string };

async function launch(
  postgres: { file: string; args: string[] },
  dir: string,
  dataDir: string,
  port: number,
): Promise<Launch> {
  const child = spawn(postgres.file, postgres.args, {
    cwd: dir,
    env: childEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: false,
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal === null ? `exit code ${String(code)}` : `signal ${signal}`;
      resolve();
    });
    child.once('error', (error) => {
      if (child.pid === undefined) {
        status = `could not run ${postgres.file}: ${error.message}`;
        resolve();
      }
    });
  });
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const stderrTail = (): string => stderr.trimEnd().split('\n').slice(-20).join('\n');
  const leftover = { pid: child.pid ?? -1, dir };
  if (child.pid !== undefined) leftovers.add(leftover);

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (status !== undefined) {
      leftovers.delete(leftover);
      await Promise.race([closed, delay(1000)]); // for the last of stderr
      const taken = /Address already in use|could not create any TCP\/IP sockets/.test(stderr);
      return {
        kind: taken ? 'port-taken' : 'failed',
        message: `PostgreSQL exited during startup (${status}):\n${stderrTail()}`,
      };
    }
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user: SUPERUSER,
      database: 'postgres',
      ssl: false,
      connectionTimeoutMillis: 2000,
    });
    client.on('error', () => undefined);
    // A port someone else holds may accept connections and then say nothing: stop waiting once ours has exited.
    if (await Promise.race([isOwnServer(client, dataDir), exited.then(() => false)])) {
      try {
        await client.query(`CREATE DATABASE ${DATABASE}`);
      } catch (error) {
        await terminate(child, exited, 'SIGQUIT');
        leftovers.delete(leftover);
        throw error;
      } finally {
        await client.end();
      }
      break;
    }
    void client.end().catch(() => undefined);
    if (Date.now() > deadline) {
      await terminate(child, exited, 'SIGQUIT');
      leftovers.delete(leftover);
      return {
        kind: 'failed',
        message: `PostgreSQL did not accept connections within ${READY_TIMEOUT_MS} ms:\n${stderrTail()}`,
      };
    }
    await Promise.race([delay(POLL_INTERVAL_MS), exited]);
  }

  // A forgotten server must not keep the event loop (jest, a benchmark) alive: the exit hook reaps it instead.
  child.unref();
  (child.stderr as Socket).unref();
  let stopping: Promise<void> | undefined;
  const shutdown = async (): Promise<void> => {
    if (status === undefined) await terminate(child, exited, 'SIGINT');
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    leftovers.delete(leftover);
  };
  return {
    kind: 'running',
    server: {
      url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
      stop: () => (stopping ??= shutdown()),
    },
  };
}

/** Whether the client connects, to this server (not someone else's on the same port): false while it is not up. */
async function isOwnServer(client: pg.Client, dataDir: string): Promise<boolean> {
  try {
    await client.connect();
    const { rows } = await client.query<{ data_directory: string }>('SHOW data_directory');
    return rows[0]?.data_directory === dataDir;
  } catch {
    return false;
  }
}

/** Signals the postmaster (SIGINT: fast shutdown, SIGQUIT: immediate) and waits, with a SIGKILL fallback. */
async function terminate(child: ChildProcess, exited: Promise<void>, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Safety net: servers still running when the process exits are killed (immediate shutdown) and their directories
 * removed. Under jest `process` is a per-test-file sandbox copy whose 'exit' never fires, so the hook goes on the real
 * process object, once, with one set shared by every copy of this module.
 */
interface Leftover {
  readonly pid: number;
  readonly dir: string;
}

const realProcess: NodeJS.Process = (() => {
  try {
    return vm.runInThisContext('process') as NodeJS.Process;
  } catch {
    return process;
  }
})();

const leftovers: Set<Leftover> = (() => {
  const key = Symbol.for('turku.tests.postgres-server.leftovers');
  const holder = realProcess as NodeJS.Process & { [key]?: Set<Leftover> };
  const existing = holder[key];
  if (existing !== undefined) return existing;
  const created = new Set<Leftover>();
  holder[key] = created;
  realProcess.once('exit', () => {
    for (const { pid, dir } of created) {
      try {
        realProcess.kill(pid, 'SIGQUIT');
      } catch {
        // already gone
      }
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        // best effort
      }
    }
  });
  return created;
})();
