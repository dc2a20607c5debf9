import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execa } from 'execa';

import { IDS, originalFleet, SECRETS } from '../../../tests/support/original-fleet.js';
import {
  createOriginalPostgres,
  createOriginalSqlite,
  djangoMillis,
  type OriginalData,
  type OriginalRow,
  type OriginalTable,
  type SchemaOptions,
} from '../../../tests/support/original-turku.js';
import { createDatabase, startPostgres, type PostgresServer } from '../../../tests/support/postgres-server.js';
import { ConfigFileError } from '../../turku/config.js';
import { runApiCli } from '../cli.js';
import { contextFromSettings } from '../context.js';
import type { Database, Queryable } from '../db/database.js';
import { migrate } from '../db/migrations.js';
import { openPostgres } from '../db/postgres.js';
import { openSqlite } from '../db/sqlite.js';
import { memoryLogger } from '../logger.js';
import { parseSettings } from '../settings.js';
import { Store, type Table } from '../store.js';
import { ImportError } from './values.js';
import { importOriginal } from './run.js';

/**
 * `turku-api import` against real databases: originals made in the original's schema on SQLite
 * files and on PostgreSQL, imported into ours on SQLite and on PostgreSQL, in every pairing.
 */

jest.setTimeout(180_000);

type Dialect = 'sqlite' | 'postgres';
const PAIRS: [Dialect, Dialect][] = [
  ['sqlite', 'sqlite'],
  ['sqlite', 'postgres'],
  ['postgres', 'sqlite'],
  ['postgres', 'postgres'],
];
const TABLES: Table[] = ['auths', 'storages', 'machines', 'sources', 'backup_logs', 'filter_sets'];
const ORIGINAL_OF: Record<OriginalTable, Table> = {
  turku_api_auth: 'auths',
  turku_api_storage: 'storages',
  turku_api_machine: 'machines',
  turku_api_source: 'sources',
  turku_api_backuplog: 'backup_logs',
  turku_api_filterset: 'filter_sets',
};

let server: PostgresServer;
let dir: string;
let fleet: OriginalData;
let made = 0;

beforeAll(async () => {
  [server, dir, fleet] = await Promise.all([
    startPostgres(),
    mkdtemp(join(tmpdir(), 'turku-import-')),
    originalFleet(),
  ]);
});
afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const urlOf = (name: string) => server.url.replace(/\/[^/]*$/, `/${name}`);

/** An original database holding `data`; what `--from` takes. */
async function makeOriginal(dialect: Dialect, data: OriginalData, options: SchemaOptions = {}): Promise<string> {
  if (dialect === 'sqlite') {
    const path = join(dir, `original-${++made}.sqlite3`);
    await createOriginalSqlite(path, data, options);
    return path;
  }
  const url = urlOf(await createDatabase(server, 'original'));
  await createOriginalPostgres(url, data, options);
  return url;
}

/** An empty database of ours (migrated), with where it lives. */
async function makeOurs(dialect: Dialect): Promise<{ db: Database; settings: Record<string, string> }> {
  const settings =
    dialect === 'sqlite'
      ? { database_path: join(dir, `ours-${++made}.db`) }
      : { database_url: urlOf(await createDatabase(server, 'ours')) };
  const db =
    settings.database_url === undefined ? openSqlite(settings.database_path) : openPostgres(settings.database_url);
  await migrate(db);
  return { db, settings };
}

/** Every row of ours, raw, in a stable order: to show a database did not change at all. */
async function dump(db: Database): Promise<Record<string, unknown[]>> {
  return db.transaction(async (tx: Queryable) => {
    const tables: Record<string, unknown[]> = {};
    for (const table of TABLES) tables[table] = await tx.all(`SELECT * FROM ${table} ORDER BY id`);
    return tables;
  });
}

async function records(db: Database) {
  return db.transaction(async (tx) => {
    const store = new Store(tx);
    return {
      auths: await store.auths(),
      storages: await store.storages(),
      machines: await store.machines(),
      sources: await store.sources(),
      backup_logs: await store.recentBackupLogs(1000),
      filter_sets: await store.filterSets(),
    };
  });
}

/**
 * What ours should hold for the fleet, worked out here from the original rows (not by the
 * importer's code): Django text times as Dates, our own columns at their defaults.
 */
function expectedRecords(data: OriginalData): Record<Table, Record<string, unknown>[]> {
  const expected = Object.fromEntries(TABLES.map((table) => [table, [] as Record<string, unknown>[]])) as Record<
    Table,
    Record<string, unknown>[]
  >;
  const failureCounts: Record<string, number> = { [IDS.home]: 2 };
  for (const [original, row] of data) {
    const table = ORIGINAL_OF[original];
    const record: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(row)) {
      record[column] =
        typeof value === 'string' && /^(date|date_.*)$/.test(column) ? new Date(djangoMillis(value)) : value;
    }
    if (table === 'storages') record.snapshot_modes = null;
    if (table === 'machines') record.tunnel_ports = null;
    if (table === 'sources') record.failure_count = failureCounts[row.id as string] ?? 0;
    if (table === 'backup_logs') record.skipped = false;
    expected[table].push(record);
  }
  return expected;
}

const byId = (rows: readonly object[]) =>
  [...rows].sort((a, b) => String((a as { id: string }).id).localeCompare(String((b as { id: string }).id)));

const FLEET_COUNTS = { auths: 2, storages: 2, machines: 3, sources: 5, backup_logs: 5, filter_sets: 3 };

describe.each(PAIRS)('an original on %s imported into ours on %s', (originalDialect, oursDialect) => {
  test('every row and field arrives, with our own columns at their defaults, and the odd rows are reported', async () => {
    const from = await makeOriginal(originalDialect, fleet);
    const { db } = await makeOurs(oursDialect);
    try {
      // Two logs a page: the five logs take three pages.
      const summary = await importOriginal(db, from, { logPageSize: 2 });
      expect(summary.dryRun).toBe(false);
      for (const { table, ...counts } of summary.tables) {
        const n = FLEET_COUNTS[table];
        expect({ table, ...counts }).toEqual({ table, original: n, insert: n, update: 0, unchanged: 0, kept: 0 });
      }
      const got = await records(db);
      const expected = expectedRecords(fleet);
      for (const table of TABLES) expect(byId(got[table])).toEqual(byId(expected[table]));
      // Each source's last attempt (migration 6) is its newest imported log, or none.
      const attempts = await db.transaction((tx) => tx.all('SELECT id, date_last_attempt FROM sources'));
      expect(attempts.some((row) => row['date_last_attempt'] !== null)).toBe(true);
      for (const row of attempts) {
        const dates = got.backup_logs.filter((log) => log.source_id === row['id']).map((log) => log.date.getTime());
        const attempt = row['date_last_attempt'] === null ? null : Number(row['date_last_attempt']);
        expect(attempt).toBe(dates.length > 0 ? Math.max(...dates) : null);
      }
      // The secret hashes are kept byte for byte: the first login verifies and re-hashes them.
      expect(got.machines.find((machine) => machine.id === IDS.web)?.secret_hash).toMatch(
        /^argon2\$argon2id\$v=19\$m=102400,t=2,p=8\$/,
      );
      expect(summary.warnings).toEqual([
        expect.stringMatching(/^machine 7d4f9b0e-2eb8-0a5f-8b3c-8d9e0f1a2bd8 \(old\/3\): its UUID is not one/),
        expect.stringMatching(/^source "var\/www" of machine 9bef0a75-.*: this API refuses such a source name/),
        expect.stringMatching(/^source "legacy" of machine 7d4f9b0e-.*: frequency "whenever": unknown period/),
        expect.stringMatching(/^source "legacy" of .*: retention "keep forever": .*storages apply no retention/),
        expect.stringMatching(/^source "legacy" of .*: snapshot_mode "zfs" is unknown/),
      ]);
      expect(summary.warnings.join('\n')).not.toContain('argon2');
    } finally {
      await db.close();
    }
  });

  test('a second import changes nothing, and a dry run writes nothing but counts the same', async () => {
    const from = await makeOriginal(originalDialect, fleet);
    const { db } = await makeOurs(oursDialect);
    try {
      const dry = await importOriginal(db, from, { dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(dry.tables.map(({ table, insert }) => [table, insert])).toEqual(Object.entries(FLEET_COUNTS));
      expect(Object.values(await dump(db)).every((rows) => rows.length === 0)).toBe(true);

      await importOriginal(db, from);
      const before = await dump(db);
      for (const options of [{ dryRun: true }, {}]) {
        const again = await importOriginal(db, from, options);
        for (const { table, ...counts } of again.tables) {
          const n = FLEET_COUNTS[table];
          expect({ table, ...counts }).toEqual({ table, original: n, insert: 0, update: 0, unchanged: n, kept: 0 });
        }
      }
      expect(await dump(db)).toEqual(before);
    } finally {
      await db.close();
    }
  });

  test('a row our API has used since is kept; one the original touched later is updated', async () => {
    const from = await makeOriginal(originalDialect, fleet);
    const { db } = await makeOurs(oursDialect);
    try {
      await importOriginal(db, from);
      // Ours moved on (a check-in): re-importing the same original keeps ours.
      const checkedIn = new Date('2024-12-15T07:00:00Z');
      await db.transaction((tx) =>
        new Store(tx).update('machines', IDS.web, { date_checked_in: checkedIn, secret_hash: 'hmac-sha256$a$b' }),
      );
      // The original moved on too (a later configuration change of db/0, a backup of etc).
      const newer = fleet.map(([table, row]): [OriginalTable, OriginalRow] => {
        if (row.id === IDS.db) return [table, { ...row, comment: 'moved', date_updated: '2024-12-15 06:00:00' }];
        if (row.id === IDS.etc) return [table, { ...row, date_last_backed_up: '2024-12-15 03:20:00' }];
        return [table, row];
      });
      const summary = await importOriginal(db, await makeOriginal(originalDialect, newer));
      const counts = Object.fromEntries(summary.tables.map(({ table, ...rest }) => [table, rest]));
      expect(counts.machines).toEqual({ original: 3, insert: 0, update: 1, unchanged: 1, kept: 1 });
      expect(counts.sources).toEqual({ original: 5, insert: 0, update: 1, unchanged: 4, kept: 0 });
      const got = await records(db);
      const web = got.machines.find((machine) => machine.id === IDS.web)!;
      expect(web).toMatchObject({ date_checked_in: checkedIn, secret_hash: 'hmac-sha256$a$b' });
      expect(got.machines.find((machine) => machine.id === IDS.db)?.comment).toBe('moved');
      expect(got.sources.find((source) => source.id === IDS.etc)?.date_last_backed_up).toEqual(
        new Date('2024-12-15T03:20:00Z'),
      );
    } finally {
      await db.close();
    }
  });

  test('an error anywhere leaves ours exactly as it was', async () => {
    const { db } = await makeOurs(oursDialect);
    try {
      // Ours already has something of its own, which must survive every failed import untouched.
      await db.transaction((tx) =>
        new Store(tx).insert('filter_sets', { name: 'ours', filters: ['- x'], active: true, date_added: 1 }),
      );
      const before = await dump(db);
      const ghost = randomUUID();
      const broken: [string, OriginalData, SchemaOptions, RegExp][] = [
        [
          'a source of a machine that does not exist',
          [
            ...fleet,
            ['turku_api_source', { ...sourceRow(IDS.etc), id: randomUUID(), name: 'ghost', machine_id: ghost }],
          ],
          { withoutForeignKeys: true },
          new RegExp(
            `^source "ghost" of machine id ${ghost} refers to machine ${ghost} \\(machine_id\\), which the original database does not have$`,
          ),
        ],
        [
          'a list that is not JSON',
          [...fleet, ['turku_api_source', { ...sourceRow(IDS.etc), id: IDS.logEtc1, name: 'x', filter: '- a' }]],
          {},
          new RegExp(
            `^turku_api_source row ${IDS.logEtc1.replace(/-/g, originalDialect === 'sqlite' ? '' : '-')}, column filter: "- a" is not a JSON list$`,
          ),
        ],
        [
          'a backup log on a storage that does not exist',
          fleet.map(([table, row]): [OriginalTable, OriginalRow] =>
            row.id === IDS.logHome2 ? [table, { ...row, storage_id: ghost }] : [table, row],
          ),
          { withoutForeignKeys: true },
          new RegExp(`^backup log ${IDS.logHome2} refers to storage ${ghost} \\(storage_id\\)`),
        ],
      ];
      if (originalDialect === 'sqlite') {
        broken.push([
          'a date that is not one',
          fleet.map(([table, row]): [OriginalTable, OriginalRow] =>
            row.id === IDS.home ? [table, { ...row, date_next_backup: '2024-02-30 04:00:00' }] : [table, row],
          ),
          {},
          /^turku_api_source row 9f6b1d2a40da4c7b8d5e0f1a2b3c4dfa, column date_next_backup: "2024-02-30 04:00:00" is not a date and time$/,
        ]);
      }
      for (const [, data, options, message] of broken) {
        const from = await makeOriginal(originalDialect, data, options);
        const failure = importOriginal(db, from);
        await expect(failure).rejects.toThrow(ImportError);
        await expect(failure).rejects.toThrow(message);
        expect(await dump(db)).toEqual(before);
      }

      // A name ours already gives to another row: refused, naming both.
      await db.transaction((tx) =>
        new Store(tx).insert('storages', {
          name: 'primary',
          secret_hash: 'hmac-sha256$a$b',
          ssh_ping_host: 'h',
          ssh_ping_port: 22,
          ssh_ping_user: 'u',
          date_registered: 1,
          date_updated: 1,
        }),
      );
      const withPrimary = await dump(db);
      const from = await makeOriginal(originalDialect, fleet);
      await expect(importOriginal(db, from)).rejects.toThrow(
        new RegExp(
          `^storage "primary" \\(id ${IDS.primary}\\) has the same name as storage "primary" \\(id [-0-9a-f]{36}, already in this database\\); rename or remove one of them, then import again$`,
        ),
      );
      expect(await dump(db)).toEqual(withPrimary);
    } finally {
      await db.close();
    }
  });
});

describe('odd rows of an SQLite original', () => {
  const replace = (id: string, changes: Record<string, string | null>) =>
    fleet.map(([table, row]): [OriginalTable, OriginalRow] =>
      row.id === id ? [table, { ...row, ...changes }] : [table, row],
    );

  test('upper-case hex UUIDs and datetimes with an offset arrive canonical', async () => {
    const data = replace(IDS.web, {
      uuid: IDS.webUuid.toUpperCase(),
      date_checked_in: '2024-12-15T07:55:01.000002+01:00',
    });
    const { db } = await makeOurs('sqlite');
    try {
      await importOriginal(db, await makeOriginal('sqlite', data));
      const web = (await records(db)).machines.find((machine) => machine.id === IDS.web);
      expect(web).toMatchObject({ uuid: IDS.webUuid, date_checked_in: new Date('2024-12-15T06:55:01.000Z') });
    } finally {
      await db.close();
    }
  });

  const refusedNames: [string, string, string][] = [
    [
      'a source named etc.snapshots beside etc',
      'etc.snapshots',
      `source "etc.snapshots" of machine ${IDS.webUuid} (id ${IDS.www}) would share its storage directories with source "etc" of the same machine; rename one of them, then import again`,
    ],
    ['a source without a name', '', `source "" of machine ${IDS.webUuid} (id ${IDS.www}): a source needs a name`],
  ];
  test.each(refusedNames)('%s is refused', async (_title, name, message) => {
    const data = replace(IDS.www, { name });
    const { db } = await makeOurs('sqlite');
    try {
      await expect(importOriginal(db, await makeOriginal('sqlite', data))).rejects.toThrow(new ImportError(message));
      expect(Object.values(await dump(db)).every((rows) => rows.length === 0)).toBe(true);
    } finally {
      await db.close();
    }
  });

  test('a registration credential of a type our API does not know is refused', async () => {
    const data = replace(IDS.storageAuth, { secret_type: 'admin' });
    const { db } = await makeOurs('sqlite');
    try {
      await expect(importOriginal(db, await makeOriginal('sqlite', data))).rejects.toThrow(
        `registration credential "Storage Registrations" (id ${IDS.storageAuth}): secret_type "admin" is neither machine_reg nor storage_reg`,
      );
    } finally {
      await db.close();
    }
  });

  test('a name ending in .snapshots, without the source it would shadow, is only reported', async () => {
    const data = replace(IDS.www, { name: 'www.snapshots' });
    const { db } = await makeOurs('sqlite');
    try {
      const summary = await importOriginal(db, await makeOriginal('sqlite', data));
      expect(summary.warnings).toContainEqual(
        `source "www.snapshots" of machine ${IDS.webUuid}: this API refuses such a source name (it must not end in ".snapshots" or ".borg"): an agent's update_config naming it is refused until it is renamed in the agent's sources.d; an agent of ours does not offer it and a storage of ours reports each backup of it as failed ("Invalid source name")`,
      );
    } finally {
      await db.close();
    }
  });

  test('two machine UUIDs that differ only in case are one UUID: refused', async () => {
    const data = replace(IDS.db, { uuid: IDS.webUuid.toUpperCase() });
    const { db } = await makeOurs('sqlite');
    try {
      await expect(importOriginal(db, await makeOriginal('sqlite', data))).rejects.toThrow(
        `machine ${IDS.webUuid} (db/0) (id ${IDS.db}) has the same uuid as machine ${IDS.webUuid} (web/0) (id ${IDS.web}, also in the original database); rename or remove one of them, then import again`,
      );
    } finally {
      await db.close();
    }
  });
});

function sourceRow(id: string): OriginalRow {
  return fleet.find(([, row]) => row.id === id)![1];
}

describe('one transaction', () => {
  test.each(['sqlite', 'postgres'] as Dialect[])(
    'ours on %s: the database refusing the last write undoes every write before it',
    async (oursDialect) => {
      const from = await makeOriginal('sqlite', fleet);
      const { db } = await makeOurs(oursDialect);
      try {
        const before = await dump(db);
        let writes = 0;
        // The real database underneath; only the last write, a backup log's INSERT, is made to fail.
        const failing: Database = {
          dialect: db.dialect,
          close: () => db.close(),
          readSnapshot: (work) => db.readSnapshot(work),
          transaction: (work) =>
            db.transaction((tx) =>
              work({
                all: (sql, params) => tx.all(sql, params),
                get: (sql, params) => tx.get(sql, params),
                run: async (sql, params) => {
                  if (sql.startsWith('INSERT INTO backup_logs') && params?.includes(IDS.logHome1)) {
                    throw new Error('disk full');
                  }
                  writes++;
                  return tx.run(sql, params);
                },
              }),
            ),
        };
        await expect(importOriginal(failing, from)).rejects.toThrow('disk full');
        expect(writes).toBe(Object.values(FLEET_COUNTS).reduce((a, b) => a + b) - 1);
        expect(await dump(db)).toEqual(before);
      } finally {
        await db.close();
      }
    },
  );
});

describe('turku-api import (the command)', () => {
  test('prints the plan of a dry run, then the summary and warnings; refuses bad usage', async () => {
    const from = await makeOriginal('sqlite', fleet);
    const { db, settings } = await makeOurs('sqlite');
    await db.close();
    const io = {
      loadSettings: (file: string) =>
        file === 'api.yaml'
          ? Promise.resolve(parseSettings(settings))
          : Promise.reject(new ConfigFileError(`Error loading ${file}: ENOENT`)),
      openContext: async (parsed: ReturnType<typeof parseSettings>) => {
        const opened = openSqlite(parsed.database_path);
        await migrate(opened);
        return { ctx: contextFromSettings(opened, parsed, memoryLogger()), close: () => opened.close() };
      },
    };
    const run = (...argv: string[]) => runApiCli([...argv, '--config', 'api.yaml'], io);

    const dry = await run('import', '--from', from, '--dry-run');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toEqual([
      'TABLE        ORIGINAL  INSERT  UPDATE  UNCHANGED  KEPT',
      'auths               2       2       0          0     0',
      'storages            2       2       0          0     0',
      'machines            3       3       0          0     0',
      'sources             5       5       0          0     0',
      'backup_logs         5       5       0          0     0',
      'filter_sets         3       3       0          0     0',
      'dry run: nothing written (an import would write 20 rows)',
    ]);
    expect(dry.stderr).toHaveLength(5);
    expect(dry.stderr[0]).toMatch(/^turku-api: warning: machine 7d4f9b0e-/);

    const done = await run('import', '--from', from);
    expect(done.stdout.at(-1)).toBe(`imported from ${from}: 20 rows written in one transaction`);
    const again = await run('import', '--from', from, '--json');
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toEqual([]);
    const summary = JSON.parse(again.stdout.join('\n')) as { tables: { table: string; unchanged: number }[] };
    expect(summary).toMatchObject({ from, dryRun: false, warnings: expect.any(Array) });
    expect(summary.tables.map(({ table, unchanged }) => [table, unchanged])).toEqual(Object.entries(FLEET_COUNTS));

    expect(await run('import')).toEqual({
      exitCode: 2,
      stdout: [],
      stderr: ['turku-api: import: --from SQLITE-FILE|postgres://URL is required'],
    });
    expect(await run('import', '--from', join(dir, 'missing.sqlite3'))).toEqual({
      exitCode: 1,
      stdout: [],
      stderr: [
        `turku-api: --from ${join(dir, 'missing.sqlite3')}: no such file (expected an SQLite file or a postgres:// URL)`,
      ],
    });
    // Our own database is not an original: refused, naming the missing table.
    const notOriginal = await run('import', '--from', settings.database_path!);
    expect(notOriginal.exitCode).toBe(1);
    expect(notOriginal.stderr[0]).toMatch(/^turku-api: cannot read table turku_api_auth: .*no such table/);
    // A URL's password is never printed.
    const secretUrl = urlOf('nowhere').replace('turku@', `turku:${SECRETS.primary}@`);
    const unreachable = await run('import', '--from', secretUrl, '--dry-run');
    expect(unreachable.exitCode).toBe(1);
    expect(unreachable.stderr.join('\n')).not.toContain(SECRETS.primary);
  });
});

test('the turku-api program imports, and then lists the imported machines (a real process)', async () => {
  const program = new URL('../../../dist/lib/api/main.js', import.meta.url).pathname;
  const from = await makeOriginal('sqlite', fleet);
  const config = join(dir, 'program-api.yaml');
  await writeFile(config, `database_path: ${join(dir, `program-${++made}.db`)}\n`);
  const run = (...args: string[]) => execa('node', [program, ...args, '--config', config], { reject: false });

  const imported = await run('import', '--from', from);
  expect(imported.exitCode).toBe(0);
  expect(imported.stdout.split('\n').at(-1)).toBe(`imported from ${from}: 20 rows written in one transaction`);
  expect(imported.stderr.split('\n')).toHaveLength(5);
  const machines = await run('machines', '--json');
  expect((JSON.parse(machines.stdout) as { unit_name: string }[]).map((machine) => machine.unit_name)).toEqual([
    'db/0',
    'old/3',
    'web/0',
  ]);
});
