import { hasControlCharacters, sshPublicKeyProblem } from '../turku/names.js';
import type { StorageMachine } from '../turku/protocol/api.js';
import { canonicalUuid } from '../turku/uuid.js';

/**
 * The ping user's authorized_keys (spec §3.6): one line per machine assigned to this storage,
 * each forced to run `turku-storage-ping <uuid>` and allowed only a loopback reverse tunnel.
 * Pure: the caller reads the `.static` file and writes the result.
 */

export interface AuthorizedKeysInput {
  readonly file: string;
  readonly command: string;
  readonly options: string;
  /** Contents of `<file>.static`, if present. */
  readonly staticText?: string;
  readonly machines: Readonly<Record<string, StorageMachine>>;
}

export interface AuthorizedKeys {
  readonly text: string;
  /** Machines left out, with why (logged by the caller). */
  readonly skipped: readonly string[];
}

export function buildAuthorizedKeys(input: AuthorizedKeysInput): AuthorizedKeys {
  if (input.command.includes('"') || hasControlCharacters(input.command)) {
    throw new Error('authorized_keys_command must not contain double quotes or control characters');
  }
  const lines = [
    '# Automatically generated, please do not edit',
    `# Local additions may be placed in ${input.file}.static`,
  ];
  if (input.staticText !== undefined && input.staticText !== '') {
    lines.push(input.staticText.endsWith('\n') ? input.staticText.slice(0, -1) : input.staticText);
  }
  const skipped: string[] = [];
  for (const uuid of Object.keys(input.machines).sort()) {
    const machine = input.machines[uuid]!;
    // A newline in either field would otherwise add an unrestricted key line.
    if (canonicalUuid(uuid) !== uuid) {
      skipped.push(`Skipping machine "${printable(uuid)}": not a canonical UUID`);
      continue;
    }
    const keyProblem = sshPublicKeyProblem(machine.ssh_public_key);
    if (keyProblem !== undefined) {
      skipped.push(`Skipping machine ${uuid}: its SSH public key ${keyProblem}`);
      continue;
    }
    const prefix = input.options === '' ? '' : `${input.options},`;
    lines.push(
      `${prefix}command="${input.command} ${uuid}" ${machine.ssh_public_key} (${printable(machine.unit_name)})`,
    );
  }
  return { text: `${lines.join('\n')}\n`, skipped };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function printable(text: string): string {
  return text.replace(CONTROL, '');
}
