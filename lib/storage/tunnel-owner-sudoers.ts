// The sudoers rule that lets an unprivileged ping account run the tunnel owner check as root
// (docs/datapath.md, "The storage's sshd"). The storage charm installs it; the end-to-end test
// of the check installs the same text for its own throwaway account.

/** Where the storage charm installs {@link tunnelOwnerSudoers}; sudo skips names with a dot. */
export const SUDOERS_DROP_IN = '/etc/sudoers.d/turku-storage';

/** The helper as the charm installs it, and as `tunnel_owner_command` names it by default. */
export const TUNNEL_OWNER_PROGRAM = '/usr/local/bin/turku-storage-tunnel-owner';

/**
 * `pingUser` may run `program` as root without a password and without arguments (`""`), nothing
 * else. The program looks only at its own ancestry, so it reveals nothing about other sessions.
 */
export function tunnelOwnerSudoers(pingUser: string, program: string = TUNNEL_OWNER_PROGRAM): string {
  // Lower case only: `ALL` and other upper-case words are sudoers keywords and aliases.
  if (!/^[a-z_][a-z0-9_-]*$/.test(pingUser)) throw new Error(`not a user name for sudoers: ${pingUser}`);
  if (!/^\/[A-Za-z0-9_./-]+$/.test(program)) throw new Error(`not a command path for sudoers: ${program}`);
  return [
    '# Written by the turku-storage charm; it rewrites this file, and removes it with the unit.',
    `# The ping user's check of who owns its tunnel port (docs/datapath.md, "The storage's sshd").`,
    `${pingUser} ALL=(root) NOPASSWD: ${program} ""`,
    '',
  ].join('\n');
}
