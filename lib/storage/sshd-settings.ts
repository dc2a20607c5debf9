// A storage's OpenSSH server settings as sshd_config lines (docs/datapath.md, "Security"). The
// ping user's Match block is the one source of truth: the turku-storage charm installs it as a
// drop-in on real machines, and the local substrate's machines, the end-to-end tests' sshd and
// the data-path benchmark write it into whole configs (each adds ListenAddress, HostKey and
// PidFile first). Keyword meanings are OpenSSH 9.2's (Debian 12, Ubuntu 22.04 and later).

/**
 * How long an authenticated login may hold no open channel (seconds). An agent opens its session
 * channel right after logging in, so this only ends logins that never run the forced command
 * (`ssh -N -R …`): their `-R` listeners do not count as open channels, and without a limit such a
 * login would hold loopback ports for as long as it likes.
 */
export const UNUSED_CONNECTION_TIMEOUT_SECONDS = 60;

/**
 * Unauthenticated connections: a login completes in well under a second, so 30 s (OpenSSH: 120)
 * is generous under load and frees slots held by clients that never authenticate.
 */
export const LOGIN_GRACE_TIME_SECONDS = 30;

/**
 * Concurrent unauthenticated connections: a fleet's timers may fire together, so up to 100 are
 * never dropped (OpenSSH: 10), beyond that a random 30% are, and all beyond 200.
 */
export const MAX_STARTUPS = '100:30:200';

/** Keepalives to the ping user's client: a vanished agent is noticed after 4 × 30 s. */
export const CLIENT_ALIVE_INTERVAL_SECONDS = 30;
export const CLIENT_ALIVE_COUNT_MAX = 4;

export interface PingUserBlockOptions {
  /**
   * Tests shorten it to see a `-N` login closed; 0 disables it (not for storages); null leaves the
   * keyword out, for an sshd older than OpenSSH 9.2 that does not know it (Ubuntu 22.04 has 8.9).
   */
  readonly unusedConnectionTimeoutSeconds?: number | null | undefined;
}

/**
 * Whether the sshd whose version line (`sshd -V`, or its usage text on versions without -V:
 * `OpenSSH_9.2p1 Debian-2, OpenSSL …`) is `versionText` knows UnusedConnectionTimeout (9.2+).
 * An unreadable version counts as knowing it: `sshd -t` then has the last word.
 */
export function knowsUnusedConnectionTimeout(versionText: string): boolean {
  const match = /OpenSSH_(\d+)\.(\d+)/.exec(versionText);
  if (match === null) return true;
  const [major, minor] = [Number(match[1]), Number(match[2])];
  return major > 9 || (major === 9 && minor >= 2);
}

/**
 * Settings sshd reads before it knows the user (they cannot go in a Match block): how long and
 * how many unauthenticated connections may wait.
 */
export function preAuthenticationLimits(): string[] {
  return [`LoginGraceTime ${LOGIN_GRACE_TIME_SECONDS}`, `MaxStartups ${MAX_STARTUPS}`];
}

/**
 * The ping user's Match block: public keys only, no terminal, no forwarding of any kind but the
 * remote TCP forward of the agent's tunnel, and only on loopback: `localhost` (the name ssh asks
 * for when `-R` names no address) or `127.0.0.1`, which sshd compares as names, not addresses.
 * sshd grants a listen request only when this and the key's own `permitlisten` both allow it, so
 * each key's line decides which ports within these. The forced command stays in
 * authorized_keys, one per machine. A Match block lasts until the next Match or
 * the end of its file: put it last.
 */
export function pingUserMatchBlock(pingUser: string, options: PingUserBlockOptions = {}): string[] {
  if (!/^[a-z_][a-z0-9_.-]*$/i.test(pingUser)) throw new Error(`not a user name sshd can match: ${pingUser}`);
  const unused =
    options.unusedConnectionTimeoutSeconds === undefined
      ? UNUSED_CONNECTION_TIMEOUT_SECONDS
      : options.unusedConnectionTimeoutSeconds;
  return [
    `Match User ${pingUser}`,
    '  AuthenticationMethods publickey',
    '  PasswordAuthentication no',
    '  KbdInteractiveAuthentication no',
    '  PermitTTY no',
    '  PermitUserRC no',
    '  AllowTcpForwarding remote',
    '  PermitListen localhost:* 127.0.0.1:*',
    '  PermitOpen none',
    '  GatewayPorts no',
    '  AllowStreamLocalForwarding no',
    '  AllowAgentForwarding no',
    '  X11Forwarding no',
    '  PermitTunnel no',
    // One login, one forced command: no second session multiplexed on the connection.
    '  MaxSessions 1',
    ...(unused === null ? [] : [`  UnusedConnectionTimeout ${unused === 0 ? 'none' : String(unused)}`]),
    `  ClientAliveInterval ${CLIENT_ALIVE_INTERVAL_SECONDS}`,
    `  ClientAliveCountMax ${CLIENT_ALIVE_COUNT_MAX}`,
  ];
}

/** Where the turku-storage charm installs {@link storageSshdDropIn} (Debian and Ubuntu include the directory first). */
export const SSHD_DROP_IN = '/etc/ssh/sshd_config.d/turku-storage.conf';

/**
 * The drop-in the charm installs on a real storage: the pre-authentication limits and the ping
 * user's Match block, nothing that changes what the machine's other users may do once logged in.
 */
export function storageSshdDropIn(pingUser: string, options: PingUserBlockOptions = {}): string {
  return [
    '# Written by the turku-storage charm; it rewrites this file, and removes it with the unit.',
    '# Settings for the Turku ping user, whose keys run only turku-storage-ping (docs/datapath.md).',
    ...preAuthenticationLimits(),
    ...pingUserMatchBlock(pingUser, options),
    '',
  ].join('\n');
}

export interface StorageSshdOptions extends PingUserBlockOptions {
  /** The one authorized_keys file sshd reads (absolute). */
  readonly authorizedKeysFile: string;
  /** The account agents log in as; null leaves out its Match block (a storage that skipped the advice). */
  readonly pingUser: string | null;
  readonly logLevel?: 'INFO' | 'VERBOSE';
}

/**
 * A whole storage sshd's settings: public keys only, root only with a forced command, every
 * forwarding kind denied to everyone, then the ping user's block.
 */
export function storageSshdSettings(options: StorageSshdOptions): string[] {
  return [
    `AuthorizedKeysFile ${options.authorizedKeysFile}`,
    'AuthorizedPrincipalsFile none',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'HostbasedAuthentication no',
    'PermitRootLogin forced-commands-only',
    'PermitUserEnvironment no',
    'UsePAM no',
    'StrictModes yes',
    'AllowTcpForwarding no',
    'AllowStreamLocalForwarding no',
    'AllowAgentForwarding no',
    'X11Forwarding no',
    'PermitTunnel no',
    'GatewayPorts no',
    'PrintMotd no',
    'UseDNS no',
    `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
    ...preAuthenticationLimits(),
    ...(options.pingUser === null ? [] : pingUserMatchBlock(options.pingUser, options)),
  ];
}
