// Running LXD's `lxc` client: one place that turns a failed command into an error naming it,
// so the substrate's modules read as the commands they run.
import { execa } from 'execa';

export interface LxcResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LxcOptions {
  /** Written to the command's stdin (`lxc profile edit`, `lxc file push -`). */
  readonly input?: string;
  /** How long the command may take (default LXC_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

/**
 * No command of the substrate takes minutes when LXD is well (an image import, the longest,
 * takes seconds): one that does is stuck, and is stopped so that the caller fails naming it
 * instead of waiting for ever (without a limit, a scenario on LXD machines and then the model's
 * teardown could each wait until jest's own deadline, with nothing said). Exit 124, as timeout(1).
 */
export const LXC_TIMEOUT_MS = 5 * 60_000;

/** Runs `lxc args…`; a non-zero exit (or the timeout, exit 124) is returned, not thrown. */
export async function tryLxc(args: readonly string[], options: LxcOptions = {}): Promise<LxcResult> {
  const timeoutMs = options.timeoutMs ?? LXC_TIMEOUT_MS;
  const result = await execa('lxc', args, {
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    timeout: timeoutMs,
  });
  if (result.timedOut) {
    return { exitCode: 124, stdout: result.stdout, stderr: `${result.stderr}\ntimed out after ${timeoutMs / 1000} s` };
  }
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs `lxc args…` and returns its stdout; a failure throws with the command and its last error line. */
export async function lxc(args: readonly string[], options: LxcOptions = {}): Promise<string> {
  const result = await tryLxc(args, options);
  if (result.exitCode !== 0) {
    const reason = result.stderr.trim().split('\n').pop() ?? '';
    throw new Error(`lxc ${args.join(' ')}: ${reason || `exit ${result.exitCode}`}`);
  }
  return result.stdout;
}

/** `lxc query /1.0/…`: LXD's REST answer, parsed. */
export async function lxdQuery<T>(path: string): Promise<T> {
  return JSON.parse(await lxc(['query', path])) as T;
}

/** Whether `lxc query` finds the object (a pool, network, profile, instance, image alias). */
export async function lxdHas(path: string): Promise<boolean> {
  return (await tryLxc(['query', path])).exitCode === 0;
}
