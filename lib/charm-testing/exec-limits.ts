// What Linux's execve refuses (E2BIG), so a hook-tool call through the fake fails where spawning
// the real tool would: one argv string over MAX_ARG_STRLEN (32 pages, its NUL included), or argv
// and environment together over ARG_MAX (a quarter of the default 8 MiB stack limit). Written
// from the kernel's rule, independently of the runtime's own guard, so a test of the runtime
// against the fake fails if that guard is missing (docs/charm-runtime.md, "Juju rules the
// runtime relies on").

export const MAX_ARG_STRLEN = 32 * 4096;
export const ARG_MAX = (8 * 1024 * 1024) / 4;
const POINTER_BYTES = 8;

const stringBytes = (text: string): number => Buffer.byteLength(text, 'utf8') + 1;

/** Why exec would refuse `tool args` with `env`, or undefined when it would start. */
export function execRefusal(
  tool: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
): string | undefined {
  const argv = [tool, ...args];
  const long = argv.findIndex((arg) => stringBytes(arg) > MAX_ARG_STRLEN);
  if (long >= 0) {
    return `argument ${long} is ${stringBytes(argv[long] as string)} bytes, over the kernel's ${MAX_ARG_STRLEN} (MAX_ARG_STRLEN)`;
  }
  const envStrings = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  const total = [...argv, ...envStrings].reduce((sum, text) => sum + stringBytes(text) + POINTER_BYTES, 0);
  if (total > ARG_MAX) return `argv and environment are ${total} bytes, over the kernel's ${ARG_MAX} (ARG_MAX)`;
  return undefined;
}

/** The result a runner reports when spawning failed this way: like the runtime's exec runner, exit 127. */
export function spawnFailure(tool: string, reason: string): { code: number; stdout: string; stderr: string } {
  return {
    code: 127,
    stdout: '',
    stderr: `ERROR cannot run hook tool "${tool}": spawnSync ${tool} E2BIG (${reason})\n`,
  };
}
