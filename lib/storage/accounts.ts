import { runProcess } from '../common/process.js';

/** A local account as getent(1) reports it (so NSS sources count, not only /etc/passwd). */
export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export async function lookupAccount(name: string): Promise<Account> {
  const result = await runProcess(['getent', 'passwd', name]);
  const fields = result.exitCode === 0 ? result.stdout.trim().split(':') : [];
  if (fields.length < 7) throw new Error(`No such user "${name}"`);
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}
