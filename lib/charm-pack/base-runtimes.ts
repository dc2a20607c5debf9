// The C and C++ runtimes each Ubuntu base the charms may declare provides: its glibc release and
// the highest GLIBCXX_ symbol version its libstdc++.so.6 defines. A Node.js binary runs on a base
// only if every GLIBC_ and GLIBCXX_ version it needs is at most these. The figures are the ones
// of each release's own packages (not of later point releases' -updates, which keep the same
// upstream versions), from the Ubuntu archive's package pages (packages.ubuntu.com):
//
//   20.04 focal: libc6 2.31-0ubuntu9; libstdc++6 from gcc-10 (10-20200411-0ubuntu1, later
//                10.5.0-1ubuntu1~20.04): libstdc++.so.6.0.28, GLIBCXX_3.4.28
//   22.04 jammy: libc6 2.35-0ubuntu3; libstdc++6 from gcc-12 (12-20220319-1ubuntu1, later
//                12.3.0-1ubuntu1~22.04): libstdc++.so.6.0.30, GLIBCXX_3.4.30
//   24.04 noble: libc6 2.39-0ubuntu8; libstdc++6 from gcc-14 (14-20240412-0ubuntu1, later
//                14.2.0-4ubuntu2~24.04): libstdc++.so.6.0.33, GLIBCXX_3.4.33
//
// Debian 11 (bullseye), glibc 2.31 and gcc-10's libstdc++ like focal, stands in for 20.04 where a
// test starts a binary on the oldest base (tests/e2e/node-runtime.test.ts, scripts/setup).
import { compareVersions, highestVersion, type ElfRequirements } from './elf.js';

export interface BaseRuntime {
  /** The base as charmcraft.yaml names it, e.g. "ubuntu@22.04". */
  readonly base: string;
  readonly glibc: string;
  readonly glibcxx: string;
}

export const UBUNTU_RUNTIMES: Readonly<Record<string, BaseRuntime>> = {
  'ubuntu@20.04': { base: 'ubuntu@20.04', glibc: '2.31', glibcxx: '3.4.28' },
  'ubuntu@22.04': { base: 'ubuntu@22.04', glibc: '2.35', glibcxx: '3.4.30' },
  'ubuntu@24.04': { base: 'ubuntu@24.04', glibc: '2.39', glibcxx: '3.4.33' },
};

const parse = (version: string) => version.split('.').map(Number);

/**
 * Why a binary with these requirements cannot start on `base`, or undefined when it can. A base
 * missing from the table is reported too: nothing says what it provides.
 */
export function runtimeMismatch(requirements: ElfRequirements, base: string): string | undefined {
  const runtime = UBUNTU_RUNTIMES[base];
  if (runtime === undefined) return `no C runtime figures for ${base} (lib/charm-pack/base-runtimes.ts)`;
  const problems: string[] = [];
  const glibc = highestVersion(requirements, 'GLIBC_');
  if (glibc !== undefined && compareVersions(parse(glibc), parse(runtime.glibc)) > 0) {
    problems.push(`needs GLIBC_${glibc}, ${base} has glibc ${runtime.glibc}`);
  }
  const glibcxx = highestVersion(requirements, 'GLIBCXX_');
  if (glibcxx !== undefined && compareVersions(parse(glibcxx), parse(runtime.glibcxx)) > 0) {
    problems.push(`needs GLIBCXX_${glibcxx}, ${base} has GLIBCXX_${runtime.glibcxx}`);
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
