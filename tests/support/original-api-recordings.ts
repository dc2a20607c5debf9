import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The original Turku API's recorded replies (tests/fixtures/original-api/README.md), and the
 * state it held before they were recorded, as requests that rebuild an equivalent state on any
 * API that speaks the wire protocol.
 */

export interface Recording {
  readonly label: string;
  readonly method: string;
  readonly path: string;
  readonly request_content_type: string | null;
  readonly request_body: string | null;
  readonly status: number;
  readonly response_content_type: string;
  readonly response_len: number;
  readonly response_body: string;
  readonly response_body_excerpt?: boolean;
}

const FILE = fileURLToPath(new URL('../fixtures/original-api/wire-samples.jsonl', import.meta.url));

export const RECORDINGS: readonly Recording[] = readFileSync(FILE, 'utf8')
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as Recording);

export function recording(label: string): Recording {
  const found = RECORDINGS.find((candidate) => candidate.label === label);
  if (found === undefined) throw new Error(`no recording labelled "${label}"`);
  return found;
}

/** The machine registration credential the recorded requests use. */
export const RECORDED_MACHINE_AUTH = { name: 'Machine Registrations', secret: '9vA93QOWIQqVkiHwjIW35phG38xrZy' };
/** Not in the recordings (they never register a storage): any credential does. */
export const STORAGE_AUTH = { name: 'Storage Registrations', secret: 'Qm4tR8vX2nL6pW0zK3yH7cJ5bF9sD1' };

/** The storage the recordings' storage calls name (its secret is in the recorded successes). */
export const PEER_STORAGE = {
  name: 'peer-storage',
  secret: 'peer-storage-secret-0123456789',
  ssh_ping_host: '127.0.0.1',
  ssh_ping_port: 12222,
  ssh_ping_user: 'root',
  ssh_ping_host_keys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKgv7U5IXOBZ9tcUhtes5sbOEu+CjwAizJtimNVhVWbf peer-storage'],
};

/** The machines of the recorded `machines` excerpt, with secrets of our own (they log in nowhere). */
function recordedMachines(): { uuid: string; secret: string; fields: Record<string, unknown> }[] {
  const excerpt = JSON.parse(recording('storage_update_config existing -> 200 (machines list)').response_body) as {
    machines: Record<string, Record<string, unknown>>;
  };
  const secrets: Record<string, string> = {
    // The peer agent checks in with this secret in the recordings.
    '8b544962-d3d1-4b82-b418-f5d73db8b6ed': '7hd5V5NwSiTL84IntY5KXApIxLIxTL',
  };
  return Object.entries(excerpt.machines).map(([uuid, fields], index) => ({
    uuid,
    secret: secrets[uuid] ?? `seedmachinesecret${index}abcdefghijklm`,
    fields,
  }));
}

/**
 * Requests that give an API the state the original had before the recordings: the storage
 * `peer-storage` and the machines the recorded `machines` excerpt lists, registered on it.
 * The API needs the two registration credentials above, and no other storage.
 */
export function seedRequests(): { view: string; body: Record<string, unknown> }[] {
  return [
    { view: 'storage_update_config', body: { auth: STORAGE_AUTH, storage: PEER_STORAGE } },
    ...recordedMachines().map(({ uuid, secret, fields }) => ({
      view: 'update_config',
      body: {
        auth: RECORDED_MACHINE_AUTH,
        machine: {
          uuid,
          secret,
          environment_name: fields.environment_name,
          service_name: fields.service_name,
          unit_name: fields.unit_name,
          ssh_public_key: fields.ssh_public_key,
          sources: {},
        },
      },
    })),
  ];
}

/** The view a recorded path names, when it names one. */
export function viewOf(record: Recording): string {
  return record.path.replace(/^\/v1\//, '');
}
