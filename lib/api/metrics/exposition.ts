import { Gauge, Registry } from 'prom-client';

import type { FleetReading, MachineReading, ReadingSink, SourceReading } from './fleet-readings.js';

/**
 * The scrape-time gauges in Prometheus' text format (docs/api.md, "Metrics"). The fleet-wide and
 * per-storage gauges go through prom-client; the per-source series (up to a million lines) are
 * written here directly, as prom-client's per-label-set bookkeeping costs seconds at that size.
 */

export function fleetText(fleet: FleetReading, perSource: boolean): Promise<string> {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });

  const sources = gauge('turku_sources', 'Counted sources by state: ok, failing (not overdue), overdue.', ['state']);
  sources.set({ state: 'ok' }, fleet.sources.ok);
  sources.set({ state: 'failing' }, fleet.sources.failing);
  sources.set({ state: 'overdue' }, fleet.sources.overdue);
  gauge('turku_sources_failing_repeatedly', 'Sources that failed 3 or more times in a row.').set(
    fleet.sources.failingRepeatedly,
  );
  gauge('turku_sources_verify_failed', 'Sources whose latest verify by their storage found problems.').set(
    fleet.verifyFailed,
  );
  gauge('turku_machines', 'Active and published machines.').set(fleet.machines);
  if (fleet.oldestMachineCheckin !== null) {
    gauge(
      'turku_machines_oldest_checkin_timestamp_seconds',
      "The least recent machine's last check-in (its registration if it never checked in).",
    ).set(fleet.oldestMachineCheckin);
  }
  gauge('turku_metrics_per_source', '1 when the per-source and per-machine series are exported.').set(
    perSource ? 1 : 0,
  );

  const total = gauge('turku_storage_total_bytes', "A storage's total space, as it last reported.", ['storage']);
  const free = gauge('turku_storage_free_bytes', "A storage's available space, as it last reported.", ['storage']);
  const machines = gauge('turku_storage_machines', 'Active and published machines assigned to a storage.', ['storage']);
  const checkin = gauge('turku_storage_last_checkin_timestamp_seconds', "A storage's last check-in.", ['storage']);
  for (const storage of fleet.storages) {
    const labels = { storage: storage.name };
    total.set(labels, storage.totalBytes);
    free.set(labels, storage.freeBytes);
    machines.set(labels, storage.machines);
    if (storage.lastCheckin !== null) checkin.set(labels, storage.lastCheckin);
  }
  return registry.metrics();
}

/** A label value as the text format wants it. */
export function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : value;
}

interface Family {
  readonly name: string;
  readonly help: string;
}

const LAST_SUCCESS: Family = {
  name: 'turku_source_last_success_timestamp_seconds',
  help: "A source's last successful backup.",
};
const LAST_ATTEMPT: Family = {
  name: 'turku_source_last_attempt_timestamp_seconds',
  help: "A source's last reported backup attempt, whatever its result.",
};
const FAILURES: Family = {
  name: 'turku_source_consecutive_failures',
  help: "A source's failed attempts since its last success.",
};
const OVERDUE: Family = {
  name: 'turku_source_overdue',
  help: '1 when a source has had no success within two of its periods.',
};
const MACHINE_CHECKIN: Family = {
  name: 'turku_machine_last_checkin_timestamp_seconds',
  help: "A machine's last check-in (its registration if it never checked in).",
};

function header(family: Family): string {
  return `# HELP ${family.name} ${family.help}\n# TYPE ${family.name} gauge\n`;
}

/** About this many characters of text per Buffer. */
const CHUNK_CHARS = 1 << 20;

/**
 * Text kept as Buffers of about a megabyte: a large fleet's series (a million lines, over 100 MB)
 * live outside the JavaScript heap, as a few hundred objects instead of a million strings.
 */
class ChunkedText {
  private readonly chunks: Buffer[] = [];
  private pending = '';

  constructor(first = '') {
    this.pending = first;
  }

  add(text: string): void {
    this.pending += text;
    if (this.pending.length >= CHUNK_CHARS) this.flush();
  }

  private flush(): void {
    if (this.pending === '') return;
    this.chunks.push(Buffer.from(this.pending));
    this.pending = '';
  }

  take(): Buffer[] {
    this.flush();
    return this.chunks;
  }
}

/**
 * The per-source and per-machine series, written as the readings arrive (fleet-readings.ts,
 * readSources). The text format wants each family's lines together, so each family gathers its
 * own text and `take` puts them one after another.
 */
export class PerSourceText implements ReadingSink {
  private readonly lastSuccess = new ChunkedText(header(LAST_SUCCESS));
  private readonly lastAttempt = new ChunkedText(header(LAST_ATTEMPT));
  private readonly failures = new ChunkedText(header(FAILURES));
  private readonly overdue = new ChunkedText(header(OVERDUE));
  private readonly checkins = new ChunkedText(header(MACHINE_CHECKIN));
  /** Each machine's escaped labels, written once and used for each of its sources. */
  private readonly labels = new Map<MachineReading, string>();

  machine(m: MachineReading): void {
    const labels = `machine="${escapeLabel(m.machine)}",machine_uuid="${escapeLabel(m.machineUuid)}"`;
    this.labels.set(m, labels);
    if (m.lastCheckin !== null) this.checkins.add(`${MACHINE_CHECKIN.name}{${labels}} ${m.lastCheckin}\n`);
  }

  source(s: SourceReading): void {
    const labels = `{${this.labels.get(s.machine)},source="${escapeLabel(s.source)}"} `;
    if (s.lastSuccess !== null) this.lastSuccess.add(`${LAST_SUCCESS.name}${labels}${s.lastSuccess}\n`);
    if (s.lastAttempt !== null) this.lastAttempt.add(`${LAST_ATTEMPT.name}${labels}${s.lastAttempt}\n`);
    this.failures.add(`${FAILURES.name}${labels}${s.consecutiveFailures}\n`);
    this.overdue.add(`${OVERDUE.name}${labels}${s.overdue ? 1 : 0}\n`);
  }

  take(): Buffer[] {
    this.labels.clear();
    return [this.lastSuccess, this.lastAttempt, this.failures, this.overdue, this.checkins].flatMap((family) =>
      family.take(),
    );
  }
}
