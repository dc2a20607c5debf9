import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { BACKENDS, startTestApi, stopPostgres, type TestApi } from '../../tests/support/api-harness.js';
import { createAuth } from './admin/commands.js';
import type { Row } from './db/database.js';

/**
 * 1,000 malformed bodies per backend: valid requests with one part replaced by arbitrary JSON,
 * and arbitrary JSON outright. None may produce a 5xx, and a refused one must leave every table
 * exactly as it was.
 */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';
const SECRET = 'Pde0IgxLd6GncfBAepfJBd0Kh8oOOL';
const STORAGE = { name: 'primary', secret: 'Xk3pR8vLq2NwT5yZb7HcJ1mFd9sGa4' };
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl turku';
const RUNS = 1000;

const TABLES = ['auths', 'storages', 'machines', 'sources', 'backup_logs', 'filter_sets', 'source_verifies'];

afterAll(stopPostgres);

/** Every path to a value inside `value`, such as ['machine', 'sources', 'etc', 'path']. */
function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  return [prefix, ...entries.flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
}

function replaceAt(value: unknown, path: readonly string[], replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path as [string, ...string[]];
  const copy = Array.isArray(value) ? [...(value as unknown[])] : { ...(value as Record<string, unknown>) };
  (copy as Record<string, unknown>)[head] = replaceAt((copy as Record<string, unknown>)[head], rest, replacement);
  return copy;
}

describe.each(BACKENDS)('malformed bodies on %s', (backend) => {
  let t: TestApi;
  let valid: Record<string, unknown>;

  beforeEach(async () => {
    t = await startTestApi(backend);
    const machineAuth = await createAuth(t.api.ctx, 'machine_reg');
    const storageAuth = await createAuth(t.api.ctx, 'storage_reg');
    const storage = {
      ...STORAGE,
      ssh_ping_host: 'primary.example.com',
      ssh_ping_port: 22,
      ssh_ping_user: 'turku-ping',
      ssh_ping_host_keys: [KEY],
      space_total: 1000,
      space_available: 500,
    };
    const machine = {
      uuid: UUID,
      secret: SECRET,
      unit_name: 'sql/2',
      ssh_public_key: KEY,
      sources: { etc: { path: '/etc', frequency: 'daily', retention: 'last 5 days', filter: ['- *.tmp'] } },
    };
    valid = {
      update_config: { auth: machineAuth, machine },
      agent_ping_checkin: { machine: { uuid: UUID, secret: SECRET } },
      agent_ping_restore: { machine: { uuid: UUID, secret: SECRET } },
      storage_update_config: { auth: storageAuth, storage },
      storage_ping_checkin: { storage: STORAGE, machine: { uuid: UUID } },
      storage_ping_source_update: {
        storage: STORAGE,
        machine: { uuid: UUID, sources: { etc: { success: true, time_begin: 1, time_end: 2 } } },
      },
      // [NEW] docs/api.md, "storage_verify_report".
      storage_verify_report: {
        storage: STORAGE,
        machine: { uuid: UUID },
        verify: {
          source: 'etc',
          snapshot: 'etc-1',
          checked_files: 1,
          checked_bytes: 2,
          complete: false,
          problem_count: 1,
          problems: [{ path: 'passwd', kind: 'content', detail: 'SHA-256 differs' }],
        },
      },
    };
    expect((await t.post('storage_update_config', valid.storage_update_config)).status).toBe(200);
    expect((await t.post('update_config', valid.update_config)).status).toBe(200);
  }, 30_000);
  afterEach(() => t.close());

  const fingerprint = () =>
    t.api.ctx.db.transaction(async (tx) => {
      const tables: Record<string, Row[]> = {};
      for (const table of TABLES) {
        const key = table === 'source_verifies' ? 'source_id' : 'id';
        tables[table] = await tx.all(`SELECT * FROM ${table} ORDER BY ${key}`);
      }
      return JSON.stringify(tables);
    });

  /** Values that have broken real servers: NUL, out-of-range numbers, huge and odd text. */
  const awkward = fc.constantFrom<unknown>(
    'a\u0000b',
    { 'x\u0000': 1 },
    -1,
    0,
    1e308,
    9223372036854776000,
    -9223372036854776000,
    1.5,
    '',
    ' ',
    'x'.repeat(5000),
    '\u202e',
    '../..',
    '1c7e2f40-8d1b-4c5e-9a3f-2b6d8e0f1a23',
    { nope: { success: true } },
    '__proto__',
    { __proto__: null, constructor: 1 },
    [],
    [null],
    true,
  );

  it(`answers ${RUNS} malformed requests without a 5xx, changing nothing when refusing`, async () => {
    const views = Object.keys(valid);
    const mutated = fc
      .constantFrom(...views)
      .chain((view) =>
        fc.tuple(
          fc.constant(view),
          fc.constantFrom(...pathsOf(valid[view])),
          fc.oneof({ weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, { weight: 3, arbitrary: awkward }),
        ),
      )
      .map(([view, path, replacement]) => ({ view, body: JSON.stringify(replaceAt(valid[view], path, replacement)) }));
    const arbitrary = fc.record({
      view: fc.constantFrom(...views, 'health'),
      body: fc.oneof(fc.json({ maxDepth: 4 }), fc.string({ maxLength: 40 })),
    });
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary }),
        async ({ view, body }) => {
          const before = await fingerprint();
          const response = await t.post(view, body);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.text.length).toBeGreaterThan(0);
            expect(await fingerprint()).toBe(before);
          }
        },
      ),
      { numRuns: RUNS, seed: 20261122 },
    );
    // The generator must reach the refusals it is meant to exercise, not only successes.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([200, 400, 403, 404]));
  }, 240_000);
});
