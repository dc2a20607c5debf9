// The integration scenarios of bundles/turku.yaml, written once against a ModelDriver
// (lib/substrate/driver.ts): turku.test.ts runs them on the local substrate, and on a Juju
// controller where one is reachable. Everything goes through the driver: deploy, relations,
// actions, `exec` on a unit's machine (with $MACHINE_ROOT as the machine's `/`), status.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { expect } from '@jest/globals';

import {
  allActive,
  completedAction,
  jsonResult,
  type ModelDriver,
  type ModelStatus,
  unitsOf,
} from '../../lib/substrate/driver.js';

export const BUNDLE = new URL('../../bundles/turku.yaml', import.meta.url).pathname;
export const HA_OVERLAY = new URL('../../bundles/turku-ha.yaml', import.meta.url).pathname;
/** The sample principal (charms/turku-sample), packed by npm run pack like the others. */
export const SAMPLE_CHARM = new URL('../../build/turku-sample.charm', import.meta.url).pathname;

/** Every minute: the first due time comes within a minute of registering. */
export const EVERY_MINUTE = 'cron * * * * *';

/** Scenarios call these through this module. */
export { completedAction as action, jsonResult };

/** Runs a script on the unit's machine that must succeed; its stdout. */
export async function run(driver: ModelDriver, unit: string, script: string): Promise<string> {
  const result = await driver.exec(unit, script);
  if (result.exitCode !== 0) {
    throw new Error(`on ${unit}: ${script}\nexit ${result.exitCode}: ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

/** Polls `check` until it returns a value (not undefined); throws its last error after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const reason = last instanceof Error ? `: ${last.message}` : '';
      throw new Error(`timed out waiting for ${what}${reason}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 2_000));
  }
}

/** The subordinate `app` unit beside `principal`. */
export function subordinateOn(status: ModelStatus, app: string, principal: string): string {
  const unit = unitsOf(status, app).find((candidate) => candidate.principal === principal);
  if (unit === undefined) throw new Error(`no ${app} unit on ${principal}`);
  return unit.name;
}

/** A fingerprint of a directory tree: relative path, type, mode and content hash of each entry. */
export function treeListing(dir: string): string {
  return (
    `cd "${dir}" && find . -mindepth 1 -printf '%P %y %m\\n' | sort && ` +
    `find . -type f -print0 | sort -z | xargs -0 -r sha256sum`
  );
}

export interface Registered {
  uuid: string;
  unit_name: string;
  storage: string | null;
}

export interface SnapshotListing {
  machine: string;
  sources: Record<string, Array<{ name: string } | string>>;
}

/** The snapshots of every source on every storage unit, by source name. */
export async function snapshotsBySource(driver: ModelDriver): Promise<Record<string, string[]>> {
  const found: Record<string, string[]> = {};
  for (const unit of unitsOf(await driver.status(), 'turku-storage')) {
    const listing = jsonResult<SnapshotListing[]>(
      await completedAction(driver, unit.name, 'list-snapshots'),
      'snapshots',
    );
    for (const machine of listing) {
      for (const [source, snapshots] of Object.entries(machine.sources)) {
        const names = snapshots.map((snapshot) => (typeof snapshot === 'string' ? snapshot : snapshot.name));
        (found[source] ??= []).push(...names.map((name) => `${unit.name}:${name}`));
      }
    }
  }
  return found;
}

/** The API's URL as the agents were given it (a unit's public address and the port option). */
export async function apiUrl(driver: ModelDriver): Promise<string> {
  const [api] = unitsOf(await driver.status(), 'turku-api');
  if (api === undefined) throw new Error('no turku-api unit');
  return `http://${api.address}:8000/v1`;
}

/** A fresh `ssh-ed25519 AAAA...` public key line (the wire format: string type, string key). */
function sshPublicKey(comment: string): string {
  const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (data: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, data.length]), data]);
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

/** Registers a machine with the API as an agent would (`update_config`), with one source. */
export async function registerMachine(url: string, registrationSecret: string, index: number): Promise<string> {
  const uuid = randomUUID();
  const response = await fetch(`${url}/update_config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      auth: { name: 'Machine Registrations', secret: registrationSecret },
      machine: {
        uuid,
        secret: `secret-${uuid}`,
        environment_name: 'spread',
        service_name: 'fleet',
        unit_name: `fleet/${index}`,
        ssh_public_key: sshPublicKey(`fleet-${index}`),
        sources: { data: { path: '/srv/data' } },
      },
    }),
  });
  if (!response.ok) throw new Error(`update_config ${response.status}: ${await response.text()}`);
  return uuid;
}

export function expectActive(status: ModelStatus, apps?: readonly string[]): void {
  const units = Object.values(status.units).filter((unit) => apps === undefined || apps.includes(unit.app));
  for (const unit of units) expect([unit.name, unit.workload]).toEqual([unit.name, 'active']);
  expect(allActive(status, apps)).toBe(true);
}
