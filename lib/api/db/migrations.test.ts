// Migration 6 on a database that has lived under migration 5: each source's last attempt is its
// newest backup log (none: null), and the per-source series' covering index includes it.
import { expect, it } from '@jest/globals';

import { MIGRATIONS, migrate } from './migrations.js';
import { openSqlite } from './sqlite.js';

it("migration 6 fills each source's last attempt from its newest log and covers it in sources_last_success", async () => {
  const db = openSqlite(':memory:');
  try {
    await db.transaction(async (tx) => {
      await tx.run('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      for (const migration of MIGRATIONS.filter((m) => m.version <= 5)) {
        for (const statement of migration.statements) await tx.run(statement);
        await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [migration.version]);
      }
      await tx.run(`INSERT INTO storages (id, name, secret_hash, ssh_ping_host, ssh_ping_port, ssh_ping_user,
        date_registered, date_updated) VALUES ('st', 'primary', 'x', 'h', 22, 'u', 0, 0)`);
      await tx.run(`INSERT INTO machines (id, uuid, secret_hash, unit_name, ssh_public_key, storage_id,
        date_registered, date_updated) VALUES ('m', 'u', 'x', 'web/0', 'k', 'st', 0, 0)`);
      for (const source of ['logged', 'never']) {
        await tx.run(
          `INSERT INTO sources (id, machine_id, name, path, date_added, date_updated, date_next_backup)
          VALUES ($1, 'm', $1, '/x', 0, 0, 0)`,
          [source],
        );
      }
      for (const [id, date, skipped] of [
        ['a', 1000, false],
        ['b', 3000, true],
        ['c', 2000, false],
      ] as const) {
        await tx.run(
          `INSERT INTO backup_logs (id, source_id, date, success, skipped) VALUES ($1, 'logged', $2, $3, $4)`,
          [id, date, !skipped, skipped],
        );
      }
    });
    expect(await migrate(db)).toEqual([6]);
    const rows = await db.transaction((tx) => tx.all('SELECT id, date_last_attempt FROM sources ORDER BY id'));
    expect(rows).toEqual([
      { id: 'logged', date_last_attempt: 3000 },
      { id: 'never', date_last_attempt: null },
    ]);
    const columns = await db.transaction((tx) => tx.all("SELECT name FROM pragma_index_info('sources_last_success')"));
    expect(columns.map((column) => column['name'])).toContain('date_last_attempt');
  } finally {
    await db.close();
  }
});
