import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

import { execa } from 'execa';

import { HEALTH_COUNTS_MAX_AGE_MS } from '../../lib/api/views/health.js';
import { startApiProcess, type ApiProcess } from '../support/api-process.js';
import { startOriginalApiStub } from '../support/original-api-stub.js';
import { distPath } from '../support/processes.js';
import { createDatabase, findPostgresBin, startPostgres, type PostgresServer } from '../support/postgres-server.js';

/**
 * The periodic sample verify end to end (docs/datapath.md, "The periodic sample verify";
 * docs/api.md, "storage_verify_report"): the real turku-storage-sample-verify program, with only
 * its verify replaced by a double (a module resolve hook swaps lib/storage/sample-verify/wiring.js,
 * the program's one wiring point), reports to a real turku-api process on SQLite and on
 * PostgreSQL. A failed verify turns /v1/health and the Nagios check CRITICAL, naming machine,
 * source and snapshot; a later passing verify of the source clears it.
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const STORAGE_SECRET = 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4';
const SNAPSHOT = '2024-12-01T00:00:00';

// The verify double: a snapshot holding a file named BROKEN has a content problem, any other passes.
const VERIFY_DOUBLE = `
import { existsSync } from 'node:fs';
import { join } from 'node:path';
export const verifierFor = () => async (request) => {
  const broken = existsSync(join(request.machineDir, request.source + '.snapshots', request.snapshot, 'BROKEN'));
  return {
    source: request.source, snapshot: request.snapshot, checkedFiles: 2, checkedBytes: 20, complete: false,
    problems: broken ? [{ path: 'etc/passwd', kind: 'content', detail: 'SHA-256 differs from the manifest' }] : [],
  };
};
`;
const HOOKS = `
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  if (resolved.url.endsWith('/lib/storage/sample-verify/wiring.js')) return { url: process.env.VERIFY_DOUBLE_URL, shortCircuit: true };
  return resolved;
}
`;
const REGISTER = `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-sample-verify-e2e-'));
  await writeFile(join(dir, 'verify-double.mjs'), VERIFY_DOUBLE);
  await writeFile(join(dir, 'hooks.mjs'), HOOKS);
  await writeFile(join(dir, 'register.mjs'), REGISTER);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function post(api: ApiProcess, view: string, body: unknown): Promise<number> {
  const response = await fetch(`${api.url}/${view}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await response.arrayBuffer();
  return response.status;
}

/** A storage registered with the API, holding one machine's source with one snapshot. */
async function storageWithSnapshot(api: ApiProcess, name: string): Promise<{ configDir: string; snapshot: string }> {
  const storage = { name, secret: STORAGE_SECRET, ssh_ping_host: 'h', ssh_ping_port: 22, ssh_ping_user: 'u' };
  expect(await post(api, 'storage_update_config', { auth: api.storageAuth, storage })).toBe(200);
  const machine = {
    uuid: UUID,
    secret: SECRET,
    unit_name: 'web/0',
    ssh_public_key: KEY,
    sources: { etc: { path: '/etc' } },
  };
  expect(await post(api, 'update_config', { auth: api.machineAuth, machine })).toBe(200);
  return storageTree(api.url, name);
}

/** The storage's configuration and its one machine's source with one snapshot. */
async function storageTree(apiUrl: string, name: string): Promise<{ configDir: string; snapshot: string }> {
  const root = join(dir, name);
  const snapshot = join(root, 'volume', UUID, 'etc.snapshots', SNAPSHOT);
  await mkdir(join(snapshot, 'etc'), { recursive: true });
  await writeFile(join(snapshot, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
  await mkdir(join(root, 'var', 'machines'), { recursive: true });
  await symlink(join(root, 'volume', UUID), join(root, 'var', 'machines', UUID));
  const configDir = join(root, 'etc');
  await mkdir(join(configDir, 'config.d'), { recursive: true });
  await writeFile(
    join(configDir, 'config.d', '10-storage.json'),
    JSON.stringify({
      name,
      secret: STORAGE_SECRET,
      api_url: apiUrl,
      volumes: { v: { path: join(root, 'volume') } },
      var_dir: join(root, 'var'),
      lock_dir: root,
      log_file: join(root, 'storage.log'),
    }),
  );
  return { configDir, snapshot };
}

function sampleVerify(configDir: string) {
  return execa(
    process.execPath,
    ['--import', join(dir, 'register.mjs'), distPath('lib/storage/sample-verify-main.js'), '--config-dir', configDir],
    { env: { VERIFY_DOUBLE_URL: pathToFileURL(join(dir, 'verify-double.mjs')).href }, reject: false },
  );
}

async function verifyHealth(api: ApiProcess): Promise<{ status: string; failed: number; lines: string[] }> {
  // On PostgreSQL health answers from a reading up to HEALTH_COUNTS_MAX_AGE_MS old (docs/api.md, "health").
  await sleep(HEALTH_COUNTS_MAX_AGE_MS);
  const response = await fetch(`${api.url}/health`);
  const body = (await response.json()) as {
    healthy: boolean;
    verify: { status: string; failed: number; lines: string[] };
  };
  expect(body.healthy).toBe(true);
  return body.verify;
}

function nagios(api: ApiProcess) {
  return execa(process.execPath, [distPath('lib/api/main.js'), 'health', '--config', join(api.dir, 'api.json')], {
    reject: false,
  });
}

async function failThenPass(api: ApiProcess, name: string): Promise<void> {
  const { configDir, snapshot } = await storageWithSnapshot(api, name);
  await writeFile(join(snapshot, 'BROKEN'), '');
  const failed = await sampleVerify(configDir);
  expect(failed.exitCode).toBe(0);
  // Problems are errors in the storage's log (and on its stderr), each path quoted.
  expect(failed.stderr).toContain(
    `ERROR: Verify of ${UUID} etc ${SNAPSHOT} found 1 problems in 2 files, 20 bytes (a sample)`,
  );
  expect(failed.stderr).toContain('ERROR:   content "etc/passwd": "SHA-256 differs from the manifest"');
  const line = `<Verify: web/0 (9bef0a75) etc ${SNAPSHOT}: 1 problem>`;
  expect(await verifyHealth(api)).toEqual({ status: 'CRITICAL', failed: 1, lines: [line] });
  const critical = await nagios(api);
  expect(critical.exitCode).toBe(2);
  expect(critical.stdout.split('\n')).toContain(line);

  await rm(join(snapshot, 'BROKEN'));
  const passed = await sampleVerify(configDir);
  expect([passed.exitCode, passed.stderr]).toEqual([0, '']);
  expect(await verifyHealth(api)).toEqual({ status: 'OK', failed: 0, lines: [] });
  expect((await nagios(api)).stdout).not.toContain('<Verify:');
}

test('SQLite: a failed verify turns the health CRITICAL, a passing one clears it', async () => {
  const api = await startApiProcess();
  try {
    await failThenPass(api, 'primary');
  } finally {
    await api.stop();
  }
}, 180_000);

(findPostgresBin() === undefined ? test.skip : test)(
  'PostgreSQL: a failed verify turns the health CRITICAL, a passing one clears it',
  async () => {
    let postgres: PostgresServer | undefined;
    let api: ApiProcess | undefined;
    try {
      postgres = await startPostgres();
      const name = await createDatabase(postgres, 'sample_verify');
      api = await startApiProcess({}, { databaseUrl: postgres.url.replace(/\/[^/]*$/, `/${name}`) });
      await failThenPass(api, 'pg-storage');
    } finally {
      await api?.stop();
      await postgres?.stop();
    }
  },
  240_000,
);

test('an original API (404 for the view): one clear warning, and the run goes on', async () => {
  const original = await startOriginalApiStub({ auths: [] });
  try {
    const { configDir, snapshot } = await storageTree(original.url, 'beside-original');
    await writeFile(join(snapshot, 'BROKEN'), '');
    const run = await sampleVerify(configDir);
    expect(run.exitCode).toBe(0);
    const warnings = run.stderr.split('\n').filter((line) => line.includes('WARNING'));
    expect(warnings).toEqual([
      expect.stringContaining(
        'WARNING: The API has no storage_verify_report view (an original Turku API?): verify results are kept in this log only',
      ),
    ]);
    expect(run.stderr).toContain(`ERROR: Verify of ${UUID} etc ${SNAPSHOT} found 1 problems`);
    expect(original.requests).toEqual([{ path: '/v1/storage_verify_report', status: 404 }]);
  } finally {
    await original.close();
  }
}, 180_000);
