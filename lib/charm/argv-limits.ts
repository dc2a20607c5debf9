// What exec accepts as a hook tool's arguments: a tool call that Linux would refuse is caught,
// with a message that says which limit, before anything runs.
import { ArgvLimitError } from './errors.js';

/**
 * Linux's MAX_ARG_STRLEN: one argv string, its terminating NUL included, is at most 32 pages
 * (128 KiB); a longer one makes exec fail with E2BIG before the tool runs.
 */
export const MAX_ARG_BYTES = 128 * 1024;
// ARG_MAX (a quarter of the 8 MiB stack limit, 2 MiB) bounds argv and the environment together;
// one call's argv stays at half of it, leaving the rest to the hook's environment.
const MAX_ARGV_BYTES = 1024 * 1024;
/** Bytes an argv string takes in exec's block: its UTF-8 and the NUL. */
export function argvBytes(arg: string): number {
  return Buffer.byteLength(arg, 'utf8') + 1;
}

/** `text` cut to at most `maxBytes` of UTF-8 (never inside a character), marked when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const marker = ' [... truncated]';
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes - marker.length)
    .toString('utf8');
  // A character split by the byte cut decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}${marker}`;
}

/** Throws ArgvLimitError when exec would refuse `tool args` (an argument, or all of them, too long). */
export function checkArgv(tool: string, args: readonly string[]): void {
  let total = argvBytes(tool);
  args.forEach((arg, index) => {
    const bytes = argvBytes(arg);
    total += bytes;
    if (bytes > MAX_ARG_BYTES) {
      throw new ArgvLimitError(
        tool,
        `${tool}: argument ${index + 1} is ${bytes} bytes; Linux refuses an argument over ${MAX_ARG_BYTES} bytes (MAX_ARG_STRLEN)`,
      );
    }
  });
  if (total > MAX_ARGV_BYTES) {
    throw new ArgvLimitError(
      tool,
      `${tool}: arguments total ${total} bytes, over the ${MAX_ARGV_BYTES} this runtime allows (ARG_MAX)`,
    );
  }
}
