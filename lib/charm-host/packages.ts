import { failureLine, type Host } from './host.js';

/**
 * Debian packages a charm needs on its unit. Only missing ones are installed, so a hook on a
 * provisioned unit costs one dpkg-query and never takes apt's lock.
 */
export async function missingPackages(host: Host, names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    const result = await host.run(['dpkg-query', '-W', '-f=${Status}', name]);
    if (result.exitCode !== 0 || !result.stdout.includes('install ok installed')) missing.push(name);
  }
  return missing;
}

/** Installs what is missing; throws one line naming the packages when apt fails. */
export async function ensurePackages(host: Host, names: readonly string[]): Promise<string[]> {
  const missing = await missingPackages(host, names);
  if (missing.length === 0) return [];
  if (!host.isSystemRoot) {
    throw new Error(
      `packages missing on this machine: ${missing.join(', ')} (install them; a unit root cannot run apt)`,
    );
  }
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['apt-get', 'install', '-y', '--no-install-recommends', ...missing];
  let result = await host.run(install, { env });
  if (result.exitCode !== 0) {
    // A fresh machine may have no package lists yet.
    await host.run(['apt-get', 'update'], { env });
    result = await host.run(install, { env });
  }
  if (result.exitCode !== 0) throw new Error(`cannot install ${missing.join(', ')}: ${failureLine(result)}`);
  return missing;
}
