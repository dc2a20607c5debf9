// What the LXD substrate's one machine image is made of: Debian 12 from debootstrap plus what a
// cloud machine brings and the charms expect of it (systemd as PID 1, sshd, rsync, borg). Pure
// data and text, so the recipe's hash names the cached build: change anything here and the
// next `ensureImage` builds a new image under a new alias.
import { createHash } from 'node:crypto';

export interface ImageRecipe {
  readonly suite: string;
  readonly mirror: string;
  readonly variant: 'minbase';
  readonly packages: readonly string[];
  /** Files written into the root after debootstrap: path -> text. */
  readonly files: Readonly<Record<string, string>>;
  /** Shell commands run in the root (chroot) after the files are written, in order. */
  readonly commands: readonly string[];
  /** Files removed last (left by debootstrap, but must be made per machine at first boot). */
  readonly remove: readonly string[];
}

export const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** The substrate's image: Debian 12 (bookworm). */
export const IMAGE_RECIPE: ImageRecipe = {
  suite: 'bookworm',
  mirror: DEBIAN_MIRROR,
  variant: 'minbase',
  packages: [
    'systemd',
    'systemd-sysv',
    'udev',
    'dbus',
    'openssh-server',
    'rsync',
    'iproute2',
    'ca-certificates',
    'borgbackup',
    // The storage's tunnel owner check runs as root through sudo (docs/datapath.md); a cloud image has it.
    'sudo',
  ],
  files: {
    // LXD's bridge hands out the addresses (a fixed lease per machine): DHCP on eth0, no IPv6.
    '/etc/systemd/network/10-eth0.network': [
      '[Match]',
      'Name=eth0',
      '',
      '[Network]',
      'DHCP=ipv4',
      'LinkLocalAddressing=no',
      'IPv6AcceptRA=no',
      '',
    ].join('\n'),
    // Each machine makes its own host keys on first boot, as cloud images do; Debian's sshd has
    // no unit for that (Fedora's sshd-keygen), so this is one.
    '/etc/systemd/system/ssh-host-keys.service': [
      '[Unit]',
      'Description=Generate SSH host keys on first boot',
      'Before=ssh.service',
      'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key',
      '',
      '[Service]',
      'Type=oneshot',
      'ExecStart=/usr/bin/ssh-keygen -A',
      '',
      '[Install]',
      'WantedBy=ssh.service multi-user.target',
      '',
    ].join('\n'),
    '/etc/apt/sources.list': `deb ${DEBIAN_MIRROR} bookworm main\n`,
    // No resolver: the machines talk to each other and to the host by address.
    '/etc/resolv.conf': '',
  },
  commands: [
    'systemctl enable systemd-networkd.service ssh-host-keys.service',
    // Timers that would reach for the network or the disk on a schedule of their own.
    'systemctl mask apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer',
    // An unprivileged container cannot mount binfmt_misc: the unit would leave every machine degraded.
    'systemctl mask systemd-binfmt.service proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount',
    'apt-get clean',
  ],
  remove: [
    '/etc/ssh/ssh_host_*',
    '/var/lib/apt/lists/*',
    '/var/cache/apt/*.bin',
    '/var/log/*.log',
    '/var/lib/dbus/machine-id',
  ],
};

/** Twelve hex digits of the recipe's SHA-256: names the cached build and the LXD image alias. */
export function recipeHash(recipe: ImageRecipe, arch: string): string {
  return createHash('sha256').update(JSON.stringify({ recipe, arch })).digest('hex').slice(0, 12);
}

/** `turku-debian-12-<hash>`: the alias `lxc launch` is given. */
export function imageAlias(recipe: ImageRecipe, arch: string): string {
  return `turku-debian-12-${recipeHash(recipe, arch)}`;
}

/** LXD's architecture name for a Debian one. */
export function lxdArchitecture(debianArch: string): string {
  const names: Record<string, string> = { amd64: 'x86_64', arm64: 'aarch64' };
  const name = names[debianArch];
  if (name === undefined) throw new Error(`no LXD architecture known for Debian's ${debianArch}`);
  return name;
}

/** The image's metadata.yaml: architecture, description, and LXD's per-instance hostname templates. */
export function metadataYaml(recipe: ImageRecipe, arch: string, createdAt: Date): string {
  const hash = recipeHash(recipe, arch);
  return [
    `architecture: ${lxdArchitecture(arch)}`,
    `creation_date: ${Math.floor(createdAt.getTime() / 1000)}`,
    'properties:',
    `  description: Turku machine, Debian 12 (${recipe.suite}) ${arch}, recipe ${hash}`,
    '  os: debian',
    `  release: ${recipe.suite}`,
    `  architecture: ${arch}`,
    `  turku.recipe: ${hash}`,
    'templates:',
    '  /etc/hostname:',
    '    when: [create, copy]',
    '    template: hostname.tpl',
    '  /etc/hosts:',
    '    when: [create, copy]',
    '    template: hosts.tpl',
    '',
  ].join('\n');
}

/** The templates metadataYaml names, by file name. */
export const TEMPLATES: Readonly<Record<string, string>> = {
  'hostname.tpl': '{{ container.name }}\n',
  'hosts.tpl': '127.0.0.1 localhost\n127.0.1.1 {{ container.name }}\n',
};
