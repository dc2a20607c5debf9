import { execa } from 'execa';

/** A local account as getent(1) reports it (so NSS sources count, not only /etc/passwd). */
export interface Account {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

export async function lookupAccount(name: string): Promise<Account> {
  const result = await execa('getent', ['passwd', name], { reject: false });
  const fields = result.exitCode === 0 ? String(result.stdout).trim().split(':') : [];
  if (fields.length < 7) throw new Error(`No such user "${name}"`);
  return { name, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! };
}
