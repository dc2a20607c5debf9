// The ELF reader on real files of this machine: a program's needed symbol versions, a library's
// defined ones, and refusals of what is not a 64-bit little-endian ELF for amd64 or arm64.
import { describe, expect, test } from '@jest/globals';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';

import { ElfError, compareVersions, highestOf, highestVersion, readElfRequirements } from './elf.js';

const ARCH = process.arch === 'x64' ? 'amd64' : 'arm64';
const TRIPLET = process.arch === 'x64' ? 'x86_64-linux-gnu' : 'aarch64-linux-gnu';

describe('readElfRequirements', () => {
  test("a program: its architecture and the versions it needs from each library (this machine's bash)", async () => {
    const bash = await readElfRequirements('/bin/bash');
    expect(bash.arch).toBe(ARCH);
    expect(Object.keys(bash.needed)).toContain('libc.so.6');
    expect(bash.needed['libc.so.6']).toEqual(expect.arrayContaining([expect.stringMatching(/^GLIBC_2\.\d+$/)]));
    expect(bash.defined).toEqual([]);
    expect(highestVersion(bash, 'GLIBC_')).toMatch(/^2\.\d+$/);
    expect(highestVersion(bash, 'GLIBCXX_')).toBeUndefined();
  });

  test("a library: the versions it defines (this machine's libc.so.6 and libstdc++.so.6)", async () => {
    const libc = await readElfRequirements(`/lib/${TRIPLET}/libc.so.6`);
    expect(libc.defined).toEqual(expect.arrayContaining(['GLIBC_2.17', 'GLIBC_2.28']));
    // The library's own soname entry is not a version.
    expect(libc.defined).not.toContain('libc.so.6');
    // Its highest version is the glibc release (Debian 12: 2.36), as `ldd --version` says.
    const ldd = (await import('node:child_process')).execFileSync('ldd', ['--version'], { encoding: 'utf8' });
    expect(ldd).toContain(` ${highestOf(libc.defined, 'GLIBC_')!}\n`);
    const libstdcxx = await readElfRequirements(`/usr/lib/${TRIPLET}/libstdc++.so.6`);
    expect(highestOf(libstdcxx.defined, 'GLIBCXX_')).toMatch(/^3\.4\.\d+$/);
  });

  test('refuses what is not a 64-bit little-endian ELF for amd64 or arm64, naming the file', async () => {
    const dir = await mkdtemp(join(os.tmpdir(), 'elf-test-'));
    const script = join(dir, 'script');
    await writeFile(script, '#!/bin/sh\necho hi\n');
    await expect(readElfRequirements(script)).rejects.toThrow(new ElfError(`${script}: not an ELF file`));
    const header = Buffer.from(await readFile('/bin/bash')).subarray(0, 4096);
    const elf32 = join(dir, 'elf32');
    await writeFile(elf32, Buffer.concat([header.subarray(0, 4), Buffer.from([1]), header.subarray(5)]));
    await expect(readElfRequirements(elf32)).rejects.toThrow(`${elf32}: not a 64-bit little-endian ELF file`);
    const riscv = Buffer.from(header);
    riscv.writeUInt16LE(243, 0x12);
    await writeFile(join(dir, 'riscv'), riscv);
    await expect(readElfRequirements(join(dir, 'riscv'))).rejects.toThrow(
      'ELF machine 243 is neither x86-64 nor AArch64',
    );
    await writeFile(join(dir, 'short'), header.subarray(0, 20));
    await expect(readElfRequirements(join(dir, 'short'))).rejects.toThrow('truncated ELF file');
  });

  test('versions compare numerically, part by part', () => {
    expect(compareVersions([2, 9], [2, 28])).toBeLessThan(0);
    expect(compareVersions([3, 4, 30], [3, 4])).toBeGreaterThan(0);
    expect(compareVersions([2, 31], [2, 31, 0])).toBe(0);
    expect(highestOf(['GLIBC_2.9', 'GLIBC_2.28', 'GLIBC_PRIVATE', 'GLIBCXX_3.4.30', 'GLIBC_2.2.5'], 'GLIBC_')).toBe(
      '2.28',
    );
  });
});
