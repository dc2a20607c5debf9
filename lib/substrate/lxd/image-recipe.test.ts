import { load } from 'js-yaml';

import { IMAGE_RECIPE, imageAlias, lxdArchitecture, metadataYaml, recipeHash, TEMPLATES } from './image-recipe.js';

describe('the LXD image recipe', () => {
  it('names its build by a hash that any change of the recipe or architecture changes', () => {
    const hash = recipeHash(IMAGE_RECIPE, 'amd64');
    expect(hash).toMatch(/^[0-9a-f]{12}$/);
    expect(recipeHash({ ...IMAGE_RECIPE }, 'amd64')).toBe(hash);
    expect(recipeHash({ ...IMAGE_RECIPE, packages: [...IMAGE_RECIPE.packages, 'vim'] }, 'amd64')).not.toBe(hash);
    expect(recipeHash({ ...IMAGE_RECIPE, commands: [...IMAGE_RECIPE.commands, 'true'] }, 'amd64')).not.toBe(hash);
    expect(recipeHash(IMAGE_RECIPE, 'arm64')).not.toBe(hash);
    expect(imageAlias(IMAGE_RECIPE, 'amd64')).toBe(`turku-debian-12-${hash}`);
  });

  it('brings what the charms need of a machine: systemd as init, sshd, rsync and borg', () => {
    for (const name of ['systemd-sysv', 'openssh-server', 'rsync', 'borgbackup', 'iproute2', 'dbus'])
      expect(IMAGE_RECIPE.packages).toContain(name);
    // Host keys are made per machine at first boot, never shared through the image.
    expect(IMAGE_RECIPE.remove).toContain('/etc/ssh/ssh_host_*');
    expect(IMAGE_RECIPE.files['/etc/systemd/system/ssh-host-keys.service']).toMatch(
      /ExecStart=\/usr\/bin\/ssh-keygen -A/,
    );
  });

  it('writes metadata LXD reads: its architecture name and per-instance hostname templates', () => {
    const metadata = load(metadataYaml(IMAGE_RECIPE, 'amd64', new Date('2026-01-02T03:04:05Z'))) as {
      architecture: string;
      creation_date: number;
      properties: Record<string, string>;
      templates: Record<string, { when: string[]; template: string }>;
    };
    expect(metadata.architecture).toBe('x86_64');
    expect(metadata.creation_date).toBe(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000);
    expect(metadata.properties['turku.recipe']).toBe(recipeHash(IMAGE_RECIPE, 'amd64'));
    for (const template of Object.values(metadata.templates)) expect(TEMPLATES[template.template]).toBeDefined();
    expect(metadata.templates['/etc/hostname']?.when).toEqual(['create', 'copy']);
  });

  it('maps Debian architectures to LXD names and refuses unknown ones', () => {
    expect(lxdArchitecture('arm64')).toBe('aarch64');
    expect(() => lxdArchitecture('mips')).toThrow(/mips/);
  });
});
