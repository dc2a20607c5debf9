import { FrequencyError, parseFrequency } from '../../turku/frequency.js';
import { bwlimitProblem, hasControlCharacters, sourceNameProblem, sshPublicKeyProblem } from '../../turku/names.js';
import { SNAPSHOT_MODES } from '../../turku/protocol/descriptor.js';
import { parseRetention, RetentionError } from '../../turku/retention.js';
import { isAcceptableMachineUuid } from '../../turku/uuid.js';
import { isLegacyHash } from '../legacy-hashes.js';
import { isWeakHash } from '../secrets.js';
import type { Table } from '../store.js';
import type { ImportedRow } from './values.js';

/**
 * Rows the original accepted but our API would refuse if they came in over `/v1` today. They are
 * imported as they are (history and restores keep working, and our runtime copes with each case
 * as described), and the operator gets one warning per row saying what will happen.
 */

export function rowWarnings(table: Table, row: ImportedRow, label: string): string[] {
  const warnings: string[] = [];
  const warn = (message: string) => warnings.push(`${label}: ${message}`);
  const text = (column: string) => row[column] as string;

  if (table === 'auths' || table === 'storages' || table === 'machines') {
    const hash = text('secret_hash');
    // Neither the original's formats nor ours (isWeakHash knows both of ours).
    if (!isLegacyHash(hash) && isWeakHash(hash) === undefined) {
      warn(
        `its secret hash is in a format this API cannot verify (${hashFormat(hash)}), so ${
          table === 'auths' ? 'it can register nothing' : 'it cannot log in'
        } until it is given a new secret`,
      );
    }
  }
  if (table === 'storages') {
    const port = row.ssh_ping_port as number;
    if (port < 1 || port > 65_535) {
      warn(`ssh_ping_port ${port} is not a TCP port; agents cannot reach it until the storage reports its own`);
    }
  }
  if (table === 'machines') {
    if (!isAcceptableMachineUuid(text('uuid'))) {
      warn('its UUID is not one this API gives to new registrations; the machine still checks in with it');
    }
    const keyProblem = sshPublicKeyProblem(text('ssh_public_key'));
    if (keyProblem !== undefined) {
      warn(
        `its ssh_public_key ${keyProblem}; storages leave it out of authorized_keys until the agent sends a new one`,
      );
    }
    for (const column of ['unit_name', 'service_name', 'environment_name']) {
      const value = row[column];
      if (typeof value === 'string' && hasControlCharacters(value)) warn(`its ${column} contains control characters`);
    }
  }
  if (table === 'sources') sourceWarnings(row, warn);
  return warnings;
}

function sourceWarnings(row: ImportedRow, warn: (message: string) => void): void {
  const name = row.name as string;
  const nameProblem = sourceNameProblem(name);
  if (nameProblem !== undefined) {
    warn(
      `this API refuses such a source name (it ${nameProblem}): an agent's update_config naming it is refused until it is renamed in the agent's sources.d; ${NAME_OUTCOME}`,
    );
  }
  try {
    parseFrequency(row.frequency as string);
  } catch (error) {
    if (!(error instanceof FrequencyError)) throw error;
    warn(
      `frequency ${JSON.stringify(row.frequency)}: ${error.detail}; after each backup it is next due after the longest backoff`,
    );
  }
  try {
    parseRetention(row.retention as string);
  } catch (error) {
    if (!(error instanceof RetentionError)) throw error;
    warn(`retention ${JSON.stringify(row.retention)}: ${error.detail}; ${retentionOutcome(row.retention as string)}`);
  }
  const bwlimit = row.bwlimit;
  if (typeof bwlimit === 'string') {
    const problem = bwlimitProblem(bwlimit);
    if (problem !== undefined) warn(`bwlimit ${problem}; rsync refuses it, so its backups fail until it is corrected`);
  }
  const mode = row.snapshot_mode;
  if (typeof mode === 'string' && mode !== '' && !(SNAPSHOT_MODES as readonly string[]).includes(mode)) {
    warn(`snapshot_mode ${JSON.stringify(mode)} is unknown; storages use their default mode`);
  }
  for (const column of ['filter', 'exclude']) {
    if ((row[column] as readonly string[]).some((line) => /[\r\n]/.test(line))) {
      warn(`its ${column} has entries with line breaks, which this API refuses from agents`);
    }
  }
}

/** How our agent and storage treat a backup of a source so named (both apply the API's rule). */
const NAME_OUTCOME =
  'an agent of ours does not offer it and a storage of ours reports each backup of it as failed ("Invalid source name")';

/** Storages read retention leniently, as they must for an original API's; this says whether they cope. */
function retentionOutcome(retention: string): string {
  try {
    parseRetention(retention, { lenient: true });
    return 'storages still apply it, but an agent sending it is refused';
  } catch (error) {
    if (!(error instanceof RetentionError)) throw error;
    return 'storages apply no retention to it (nothing expires) until it is corrected';
  }
}

/** The algorithm part of a hash, never the hash itself (hashes are not logged). */
function hashFormat(hash: string): string {
  if (hash === '') return 'empty';
  if (hash.startsWith('!')) return 'an unusable password';
  const algorithm = /^[A-Za-z0-9_-]{1,30}(?=\$)/.exec(hash)?.[0];
  return algorithm === undefined ? 'unknown' : `"${algorithm}"`;
}
