import { Counter, Histogram, Registry } from 'prom-client';

/**
 * The API's event counters and request timings (docs/api.md, "Metrics"), kept in this process.
 * Each API unit counts its own; Prometheus sums them. Counted after the work commits, so a
 * retried or rolled-back transaction is not counted twice.
 */

export type RequestResult = 'ok' | 'refused' | 'error';
export type BackupResult = 'success' | 'failure' | 'skipped';
export type RegistrationResult = 'registered' | 'refused';

/** Seconds; a check-in takes a millisecond or less, an update_config of many sources longer. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The views whose requests are check-ins, and whose. */
const CHECKIN_KIND: Readonly<Record<string, string>> = {
  agent_ping_checkin: 'agent',
  storage_ping_checkin: 'storage',
};

export class ApiInstruments {
  readonly registry = new Registry();
  private readonly requests = new Histogram({
    name: 'turku_api_request_duration_seconds',
    help: 'Time to answer an API request, by view and result.',
    labelNames: ['view', 'result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly checkins = new Counter({
    name: 'turku_checkins_total',
    help: 'Check-ins (agent_ping_checkin, storage_ping_checkin) by kind and result.',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  private readonly registrations = new Counter({
    name: 'turku_registrations_total',
    help: 'Machine and storage registrations by result.',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  private readonly backups = new Counter({
    name: 'turku_backups_total',
    help: 'Backup results reported by storages (storage_ping_source_update).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  request(view: string, result: RequestResult, seconds: number): void {
    this.requests.observe({ view, result }, seconds);
    const kind = CHECKIN_KIND[view];
    if (kind !== undefined) this.checkins.inc({ kind, result });
  }

  registration(kind: 'machine' | 'storage', result: RegistrationResult): void {
    this.registrations.inc({ kind, result });
  }

  backup(result: BackupResult): void {
    this.backups.inc({ result });
  }
}
