// Reads what a Linux executable needs from the machine that runs it, straight from its ELF file:
// the CPU it is built for and the versions of the C and C++ runtime symbols it links against
// (GLIBC_2.28, GLIBCXX_3.4.21...). The dynamic loader refuses to start a program whose required
// symbol versions the machine's libc.so.6 or libstdc++.so.6 lacks, so these versions decide which
// Ubuntu releases a shipped Node.js binary runs on. Only 64-bit little-endian files are read:
// that covers x86-64 and AArch64, the two architectures the charms ship Node.js for.
import { open } from 'node:fs/promises';

/** The architectures the charms ship Node.js for, by their Debian (and Juju) names. */
export type CharmArch = 'amd64' | 'arm64';

/** ELF e_machine values. */
const MACHINES: Readonly<Record<number, CharmArch>> = { 62: 'amd64', 183: 'arm64' };

/** Section types of `.gnu.version_r` (the versions the file needs, per shared library) and `.gnu.version_d` (those it defines). */
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERDEF = 0x6ffffffd;

export interface ElfRequirements {
  readonly arch: CharmArch;
  /** Shared library (e.g. "libc.so.6") -> the symbol versions needed from it, e.g. ["GLIBC_2.17", ...]. */
  readonly needed: Readonly<Record<string, readonly string[]>>;
  /** The symbol versions a shared library provides (libc.so.6: GLIBC_2.2.5 ... GLIBC_2.31); empty for a program. */
  readonly defined: readonly string[];
}

export class ElfError extends Error {
  override name = 'ElfError';
}

/** Reads the architecture and the needed (and defined) symbol versions of an ELF executable or library. */
export async function readElfRequirements(path: string): Promise<ElfRequirements> {
  const file = await open(path, 'r');
  try {
    const read = async (offset: number, length: number): Promise<Buffer> => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      if (bytesRead !== length) {
        const elf = offset > 0 || (bytesRead >= 4 && buffer.readUInt32BE(0) === 0x7f454c46);
        throw new ElfError(`${path}: ${elf ? 'truncated ELF file' : 'not an ELF file'}`);
      }
      return buffer;
    };
    const header = await read(0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(`${path}: not an ELF file`);
    if (header[4] !== 2 || header[5] !== 1) throw new ElfError(`${path}: not a 64-bit little-endian ELF file`);
    const machine = header.readUInt16LE(0x12);
    const arch = MACHINES[machine];
    if (arch === undefined) throw new ElfError(`${path}: ELF machine ${machine} is neither x86-64 nor AArch64`);

    const sectionsAt = Number(header.readBigUInt64LE(0x28));
    const entrySize = header.readUInt16LE(0x3a);
    const count = header.readUInt16LE(0x3c);
    const table = await read(sectionsAt, entrySize * count);
    const section = (index: number) => {
      const at = index * entrySize;
      return {
        type: table.readUInt32LE(at + 4),
        offset: Number(table.readBigUInt64LE(at + 24)),
        size: Number(table.readBigUInt64LE(at + 32)),
        link: table.readUInt32LE(at + 40),
        info: table.readUInt32LE(at + 44),
      };
    };

    const needed: Record<string, string[]> = {};
    const defined: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const versions = section(index);
      if (versions.type !== SHT_GNU_VERNEED && versions.type !== SHT_GNU_VERDEF) continue;
      const strings = section(versions.link);
      const names = await read(strings.offset, strings.size);
      const name = (at: number) => names.toString('latin1', at, names.indexOf(0, at));
      const data = await read(versions.offset, versions.size);
      let at = 0;
      for (let entry = 0; entry < versions.info; entry += 1) {
        if (versions.type === SHT_GNU_VERNEED) {
          // Elf64_Verneed {u16 version, u16 count, u32 file, u32 aux, u32 next}, each followed
          // (at `aux`) by `count` Elf64_Vernaux {u32 hash, u16 flags, u16 other, u32 name, u32 next}.
          const auxCount = data.readUInt16LE(at + 2);
          const library = (needed[name(data.readUInt32LE(at + 4))] ??= []);
          let aux = at + data.readUInt32LE(at + 8);
          for (let i = 0; i < auxCount; i += 1) {
            library.push(name(data.readUInt32LE(aux + 8)));
            aux += data.readUInt32LE(aux + 12);
          }
        } else if ((data.readUInt16LE(at + 2) & 1) === 0) {
          // Elf64_Verdef {u16 version, u16 flags, u16 index, u16 count, u32 hash, u32 aux, u32 next}
          // whose first Elf64_Verdaux {u32 name, u32 next} names the version; flag 1 marks the
          // entry naming the library itself.
          defined.push(name(data.readUInt32LE(at + data.readUInt32LE(at + 12))));
        }
        const next = data.readUInt32LE(at + (versions.type === SHT_GNU_VERNEED ? 12 : 16));
        if (next === 0) break;
        at += next;
      }
    }
    return { arch, needed, defined };
  } finally {
    await file.close();
  }
}

/** "GLIBC_2.28" -> [2, 28]; undefined for another prefix or a non-numeric version. */
function versionOf(symbolVersion: string, prefix: string): number[] | undefined {
  if (!symbolVersion.startsWith(prefix)) return undefined;
  const parts = symbolVersion.slice(prefix.length).split('.');
  return parts.every((part) => /^\d+$/.test(part)) ? parts.map(Number) : undefined;
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** The highest `<prefix><n.n...>` version in a list (e.g. "GLIBC_" -> "2.28"), or undefined. */
export function highestOf(symbolVersions: Iterable<string>, prefix: string): string | undefined {
  let best: number[] | undefined;
  for (const symbolVersion of symbolVersions) {
    const version = versionOf(symbolVersion, prefix);
    if (version !== undefined && (best === undefined || compareVersions(version, best) > 0)) best = version;
  }
  return best?.join('.');
}

/** The highest needed `<prefix><n.n...>` version, over every library (e.g. "GLIBC_" -> "2.28"). */
export function highestVersion(requirements: ElfRequirements, prefix: string): string | undefined {
  return highestOf(Object.values(requirements.needed).flat(), prefix);
}
