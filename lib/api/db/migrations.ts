import type { Database, Queryable } from './database.js';

/**
 * The schema, as an ordered list of migrations applied at start. The SQL is common to SQLite
 * and PostgreSQL: TEXT ids (canonical UUIDs), BIGINT epoch milliseconds, BOOLEAN flags, JSON
 * text for lists. Never edit a released migration; append a new one.
 */

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly statements: readonly string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema',
    statements: [
      `CREATE TABLE auths (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        secret_type TEXT NOT NULL CHECK (secret_type IN ('machine_reg', 'storage_reg')),
        comment TEXT,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        date_added BIGINT NOT NULL
      )`,
      `CREATE TABLE storages (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        comment TEXT,
        ssh_ping_host TEXT NOT NULL,
        ssh_ping_host_keys TEXT NOT NULL DEFAULT '[]',
        ssh_ping_port INTEGER NOT NULL,
        ssh_ping_user TEXT NOT NULL,
        space_total BIGINT NOT NULL DEFAULT 0,
        space_available BIGINT NOT NULL DEFAULT 0,
        auth_id TEXT REFERENCES auths (id),
        active BOOLEAN NOT NULL DEFAULT TRUE,
        published BOOLEAN NOT NULL DEFAULT TRUE,
        date_registered BIGINT NOT NULL,
        date_updated BIGINT NOT NULL,
        date_checked_in BIGINT,
        snapshot_modes TEXT
      )`,
      `CREATE TABLE machines (
        id TEXT PRIMARY KEY,
        uuid TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        environment_name TEXT,
        service_name TEXT,
        unit_name TEXT NOT NULL,
        comment TEXT,
        ssh_public_key TEXT NOT NULL,
        auth_id TEXT REFERENCES auths (id),
        storage_id TEXT NOT NULL REFERENCES storages (id),
        active BOOLEAN NOT NULL DEFAULT TRUE,
        published BOOLEAN NOT NULL DEFAULT TRUE,
        date_registered BIGINT NOT NULL,
        date_updated BIGINT NOT NULL,
        date_checked_in BIGINT
      )`,
      `CREATE INDEX machines_storage ON machines (storage_id)`,
      `CREATE TABLE sources (
        id TEXT PRIMARY KEY,
        machine_id TEXT NOT NULL REFERENCES machines (id),
        name TEXT NOT NULL,
        comment TEXT,
        path TEXT NOT NULL,
        filter TEXT NOT NULL DEFAULT '[]',
        exclude TEXT NOT NULL DEFAULT '[]',
        frequency TEXT NOT NULL DEFAULT 'daily',
        retention TEXT NOT NULL DEFAULT 'last 5 days, earliest of month',
        bwlimit TEXT,
        snapshot_mode TEXT,
        preserve_hard_links BOOLEAN NOT NULL DEFAULT FALSE,
        shared_service BOOLEAN NOT NULL DEFAULT FALSE,
        large_rotating_files BOOLEAN NOT NULL DEFAULT FALSE,
        large_modifying_files BOOLEAN NOT NULL DEFAULT FALSE,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        success BOOLEAN NOT NULL DEFAULT TRUE,
        published BOOLEAN NOT NULL DEFAULT TRUE,
        date_added BIGINT NOT NULL,
        date_updated BIGINT NOT NULL,
        date_last_backed_up BIGINT,
        date_next_backup BIGINT NOT NULL,
        failure_count INTEGER NOT NULL DEFAULT 0,
        UNIQUE (machine_id, name)
      )`,
      `CREATE INDEX sources_due ON sources (date_next_backup)`,
      `CREATE TABLE backup_logs (
        id TEXT PRIMARY KEY,
        source_id TEXT NOT NULL REFERENCES sources (id),
        date BIGINT NOT NULL,
        storage_id TEXT REFERENCES storages (id),
        success BOOLEAN NOT NULL,
        skipped BOOLEAN NOT NULL DEFAULT FALSE,
        date_begin BIGINT,
        date_end BIGINT,
        snapshot TEXT,
        summary TEXT
      )`,
      `CREATE INDEX backup_logs_source_date ON backup_logs (source_id, date)`,
      `CREATE INDEX backup_logs_date ON backup_logs (date)`,
      `CREATE TABLE filter_sets (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        filters TEXT NOT NULL DEFAULT '[]',
        comment TEXT,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        date_added BIGINT NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    description: "machines' tunnel port allowance",
    statements: [
      // JSON list of ports; NULL: the machine never asked (an original agent, an imported machine).
      'ALTER TABLE machines ADD COLUMN tunnel_ports TEXT',
    ],
  },
  {
    version: 3,
    description: "sources' latest verify (storage_verify_report)",
    statements: [
      // One row per source: the latest verify its storage reported. Not in the original's data,
      // so an import leaves it alone. `problems` is JSON: the first few problems, bounded.
      `CREATE TABLE source_verifies (
        source_id TEXT PRIMARY KEY REFERENCES sources (id),
        storage_id TEXT REFERENCES storages (id),
        date BIGINT NOT NULL,
        snapshot TEXT NOT NULL,
        checked_files BIGINT NOT NULL,
        checked_bytes BIGINT NOT NULL,
        complete BOOLEAN NOT NULL,
        problem_count BIGINT NOT NULL,
        problems TEXT NOT NULL DEFAULT '[]'
      )`,
      'CREATE INDEX source_verifies_failed ON source_verifies (problem_count)',
    ],
  },
  {
    version: 4,
    description: 'web console admins and sessions',
    statements: [
      // docs/api.md, "Web console": admins apart from the registration credentials (auths).
      `CREATE TABLE console_admins (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        active BOOLEAN NOT NULL DEFAULT TRUE,
        date_added BIGINT NOT NULL
      )`,
      // A session's token is kept as its SHA-256 only.
      `CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        admin_id TEXT NOT NULL REFERENCES console_admins (id),
        csrf_token TEXT NOT NULL,
        date_created BIGINT NOT NULL,
        date_expires BIGINT NOT NULL
      )`,
      'CREATE INDEX console_sessions_expires ON console_sessions (date_expires)',
      // The console lists machines (and their sources) by unit name, a page at a time.
      'CREATE INDEX machines_unit_name ON machines (unit_name, uuid)',
      // The console's counts and its failing and overdue lists read these instead of every row:
      // failing and overdue sources are few. Check-ins write neither column.
      'CREATE INDEX sources_state ON sources (active, success, date_next_backup)',
      'CREATE INDEX machines_active ON machines (active)',
    ],
  },
  {
    version: 5,
    description: '/metrics: indexes that count sources by state without reading every source',
    statements: [
      // GET /metrics (lib/api/metrics/fleet-readings.ts) reads only the few sources that are
      // overdue, failing or not counted, through these; a check-in changes none of them, a backup
      // report the first two.
      // Also covering for the per-source series: narrower than the table's rows, so faster to scan.
      `CREATE INDEX sources_last_success ON sources
        (frequency, date_last_backed_up, date_added, failure_count, machine_id, name, id, active, published)`,
      'CREATE INDEX sources_failing ON sources (failure_count) WHERE failure_count > 0',
      'CREATE INDEX sources_not_counted ON sources (machine_id) WHERE NOT (active AND published)',
      'CREATE INDEX machines_not_served ON machines (storage_id, id) WHERE NOT (active AND published)',
    ],
  },
  {
    version: 6,
    description: "sources: the last reported attempt's time, kept on the source for /metrics",
    statements: [
      // The per-source series looked it up as the newest backup log of each source: 300,000
      // index lookups per scrape, most of its database time. A backup report now writes it
      // beside the success or failure it already writes, and log retention no longer erases it.
      'ALTER TABLE sources ADD COLUMN date_last_attempt BIGINT',
      'UPDATE sources SET date_last_attempt = (SELECT MAX(b.date) FROM backup_logs b WHERE b.source_id = sources.id)',
      // Still covering for the per-source series, with the new column.
      'DROP INDEX sources_last_success',
      `CREATE INDEX sources_last_success ON sources
        (frequency, date_last_backed_up, date_added, failure_count, machine_id, name, id, active, published,
         date_last_attempt)`,
    ],
  },
];

/** Applies the migrations this database has not seen yet, each in its own transaction. */
export async function migrate(db: Database, now: () => Date = () => new Date()): Promise<number[]> {
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const done = await db.transaction(async (tx) => {
      await lockSchema(db, tx);
      await tx.run(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
      );
      const seen = await tx.get('SELECT version FROM schema_migrations WHERE version = $1', [migration.version]);
      if (seen !== undefined) return false;
      for (const statement of migration.statements) await tx.run(statement);
      await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [
        migration.version,
        now().getTime(),
      ]);
      return true;
    });
    if (done) applied.push(migration.version);
  }
  return applied;
}

/** Several API units may start together on one PostgreSQL: one migrates, the others wait. */
async function lockSchema(db: Database, tx: Queryable): Promise<void> {
  if (db.dialect === 'postgres') await tx.run('SELECT pg_advisory_xact_lock(7262810)');
}
