// What spec §3.6 asks of a storage's OpenSSH server, as sshd_config lines: public keys only, root
// only with a forced command, nothing an agent's key could use beyond its tunnel, and for the
// ping user remote forwarding alone. The local substrate's machines, the end-to-end tests' sshd
// and the data-path benchmark all run with these; each adds its own ListenAddress, HostKey and
// PidFile first.

export interface StorageSshdOptions {
  /** The one authorized_keys file sshd reads (absolute). */
  readonly authorizedKeysFile: string;
  /** The account agents log in as; null leaves out its Match block (a storage that skipped the advice). */
  readonly pingUser: string | null;
  readonly logLevel?: 'INFO' | 'VERBOSE';
}

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
    'GatewayPorts no',
    'PermitTunnel no',
    'PrintMotd no',
    'UseDNS no',
    `LogLevel ${options.logLevel ?? 'VERBOSE'}`,
    // Parallel agents log in at once: no early drops of unauthenticated connections.
    'MaxStartups 100',
    'LoginGraceTime 30',
    // A Match block lasts until the next Match: it comes last.
    ...(options.pingUser === null
      ? []
      : [
          `Match User ${options.pingUser}`,
          '  AllowTcpForwarding remote',
          '  X11Forwarding no',
          '  AllowAgentForwarding no',
          '  PermitTTY no',
        ]),
  ];
}
