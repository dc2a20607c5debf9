import { spawn } from 'node:child_process';

/** A lock held by a process of its own, as a turku-storage-ping holds a backup slot. */
export interface OutsideLock {
  readonly pid: number;
  /** SIGKILL, as a session killed outright: the kernel drops the lock, the file stays. */
  kill(): Promise<void>;
}

/**
 * Takes an flock on `path` (created if missing) in a shell that then sleeps, and resolves once it
 * holds it. One process holds it: flock(1) running a command would fork one that could outlive
 * the 'exit' event.
 */
export async function holdLockOutside(path: string): Promise<OutsideLock> {
  const script = 'exec 3>>"$0"; flock --nonblock 3 && echo held && exec sleep 600';
  const holder = spawn('sh', ['-c', script, path], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  const exited = new Promise<void>((resolve) => holder.once('exit', () => resolve()));
  const held = await Promise.race([
    new Promise<boolean>((resolve) => holder.stdout.once('data', () => resolve(true))),
    exited.then(() => false),
  ]);
  if (!held) throw new Error(`could not lock ${path} from another process`);
  return {
    pid: holder.pid!,
    async kill() {
      if (holder.exitCode === null && holder.signalCode === null) process.kill(-holder.pid!, 'SIGKILL');
      await exited;
    },
  };
}
