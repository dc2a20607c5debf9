import { randomInt } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { UserError } from '../common/errors.js';
import type { WorkloadLogger } from '../common/workload-log.js';
import type { StorageEndpoint } from '../turku/protocol/descriptor.js';
import { makePrivateDir, removePrivateDir } from './exit-cleanup.js';
import { startRsyncDaemon, type DaemonModule, type RsyncDaemon } from './rsyncd.js';
import { sshKeyPath, type AgentSettings } from './settings.js';
import { isForwardFailure, knownHostsText, runSsh, sshArgv, type SshResult } from './ssh.js';

/**
 * One session with one storage (docs/datapath.md, "A backup, step by step" step 2): a private directory in
 * `<var_dir>/sessions`, the rsync daemon with fresh credentials, ssh with the reverse tunnel (both
 * started at once) and the request once the daemon answers; retried on a new port and new credentials when the storage cannot listen on the
 * port. Whatever happens, the daemon is stopped and the directory (config, secrets, known hosts)
 * removed before this returns; if the agent is killed instead, the daemon and ssh die with it
 * (die-with-parent.ts) and the next start removes the directory (leftover-sessions.ts).
 * Callers hold the agent's lock.
 */

export interface SessionOptions {
  readonly settings: Pick<
    AgentSettings,
    | 'var_dir'
    | 'rsyncd_command'
    | 'rsyncd_local_address'
    | 'rsyncd_user'
    | 'rsyncd_group'
    | 'ssh_command'
    | 'tunnel_ports'
  >;
  readonly storage: StorageEndpoint;
  /** The modules to offer, with fresh credentials: called once per attempt. */
  readonly modules: () => DaemonModule[];
  /** The framed stdin request for a daemon on `port` serving `modules`. */
  readonly request: (port: number, modules: readonly DaemonModule[]) => string;
  readonly stdin: 'hold' | 'end';
  /** Ends the session (an interrupt, a timeout): stdin closes, then ssh is stopped after `graceMs`. */
  readonly stop?: AbortSignal;
  readonly graceMs?: number;
  /** Called when the daemon is ready, before ssh starts (the restore prints its instructions). */
  readonly onReady?: (port: number, modules: readonly DaemonModule[]) => void;
  readonly onStderr?: (text: string) => void;
  readonly onStdout?: (text: string) => void;
  readonly log: WorkloadLogger;
  /** A restore's session (the storage's session gate gives restores places of their own). */
  readonly restore?: boolean;
  /** Forward-failure attempts in total (default 3). */
  readonly maxAttempts?: number;
  /** For tests: the daemon's port choice. */
  readonly choosePort?: () => number;
}

export interface SessionResult extends SshResult {
  readonly port: number;
  readonly attempts: number;
}

export async function runStorageSession(options: SessionOptions): Promise<SessionResult> {
  const { settings, storage, log } = options;
  const maxAttempts = options.maxAttempts ?? 3;
  const choosePort = options.choosePort ?? tunnelPortChooser(storage, settings.tunnel_ports, log);
  for (let attempt = 1; ; attempt++) {
    if (options.stop?.aborted === true) throw new UserError('Interrupted before the session with the storage started');
    const dir = await makePrivateDir(settings.var_dir);
    let result: SshResult;
    let port: number;
    try {
      const modules = options.modules();
      const knownHostsFile = join(dir, 'known_hosts');
      await writeFile(knownHostsFile, knownHostsText(storage), { mode: 0o600 });
      const ssh = (onPort: number, request: string | Promise<string>) => {
        const argv = sshArgv({
          command: settings.ssh_command,
          knownHostsFile,
          keyFile: sshKeyPath(settings),
          port: onPort,
          localAddress: settings.rsyncd_local_address,
          storage,
          ...(options.restore === true ? { restore: true } : {}),
        });
        log.debug(`Running ${argv.join(' ')}`);
        return runSsh({
          argv,
          request,
          stdin: options.stdin,
          ...(options.stop === undefined ? {} : { stop: options.stop }),
          ...(options.graceMs === undefined ? {} : { graceMs: options.graceMs }),
          ...(options.onStderr === undefined ? {} : { onStderr: options.onStderr }),
          ...(options.onStdout === undefined ? {} : { onStdout: options.onStdout }),
        });
      };
      const ready = (daemon: RsyncDaemon) => {
        options.onReady?.(daemon.port, modules);
        return options.request(daemon.port, modules);
      };
      // ssh connects and the storage's program starts while the daemon starts: the request, on
      // which the storage begins, goes out once the daemon answers on the port ssh forwards.
      const firstPort = choosePort();
      let first = true;
      const starting = startRsyncDaemon({
        command: settings.rsyncd_command,
        address: settings.rsyncd_local_address,
        uid: settings.rsyncd_user,
        gid: settings.rsyncd_group,
        modules,
        dir,
        log,
        choosePort: () => (first ? ((first = false), firstPort) : choosePort()),
      });
      let daemon: RsyncDaemon | undefined;
      try {
        result = await ssh(
          firstPort,
          starting.then((started) => (started.port === firstPort ? ready(started) : Promise.reject(new Error()))),
        );
        daemon = await starting;
        if (daemon.port !== firstPort) {
          // The first port was taken on this machine: the daemon listens on another one now.
          log.debug(`ssh to ${storage.name} ended: the rsync daemon could not listen on port ${firstPort}`);
          result = await ssh(daemon.port, ready(daemon));
        }
        port = daemon.port;
        log.debug(`ssh to ${storage.name} ended with ${result.signal ?? `exit status ${result.exitCode}`}`);
        if (daemon.exited) log.warning(`The rsync daemon on port ${port} had stopped before the session ended`);
      } finally {
        daemon ??= await starting.catch(() => undefined);
        await daemon?.stop();
      }
    } finally {
      await removePrivateDir(dir);
    }
    if (isForwardFailure(result) && attempt < maxAttempts && !result.stopped) {
      log.warning(`Storage ${storage.name} could not listen on port ${port}; retrying with another port`);
      continue;
    }
    return { ...result, port, attempts: attempt };
  }
}

/**
 * The session's port choice (docs/datapath.md, "Tunnel ports"): the machine's allowance at this
 * storage first, which is all a storage of ours lets its key listen on; once every allowed port
 * was tried, or without an allowance (an original API), the `tunnel_ports` range.
 */
export function tunnelPortChooser(
  storage: Pick<StorageEndpoint, 'name' | 'tunnel_ports'>,
  range: { readonly min: number; readonly max: number },
  log: Pick<WorkloadLogger, 'debug'>,
): () => number {
  const fromRange = untriedPortIn(range);
  const allowed = [...(storage.tunnel_ports ?? [])];
  if (allowed.length === 0) {
    log.debug(`Tunnel port for storage ${storage.name}: from tunnel_ports ${range.min}-${range.max} (no allowance)`);
    return fromRange;
  }
  // At debug level: the interactive restore prints exactly its block, and a check-in one line.
  log.debug(`Tunnel port for storage ${storage.name}: from this machine's allowance ${allowed.join(', ')}`);
  return () => (allowed.length > 0 ? allowed.splice(randomInt(allowed.length), 1)[0]! : fromRange());
}

/** Random ports from the range, each tried once while untried ones remain ("retry on another port"). */
export function untriedPortIn(range: { readonly min: number; readonly max: number }): () => number {
  const tried = new Set<number>();
  return () => {
    const size = range.max - range.min + 1;
    let port = range.min + randomInt(size);
    for (let i = 0; tried.has(port) && tried.size < size && i < 1000; i++) port = range.min + randomInt(size);
    tried.add(port);
    return port;
  };
}
