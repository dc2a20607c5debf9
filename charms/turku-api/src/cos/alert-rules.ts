// The alert rules turku-api sends over `metrics-endpoint` (docs/api.md, "Alert rules"); the same
// groups are in charms/turku-api/cos/turku-api.rules.yaml (a test keeps the file equal to this),
// which `promtool check rules` checks and operators without COS can load as they are.
//
// Each condition has a per-source (or per-machine) rule and a fleet-wide one that fires only when
// the per-source series are off (`metrics_per_source: false`), so an alert names what it can.
// Several API units export the same fleet: `max` folds their copies into one series.
import type { AlertRules } from '../../../../lib/charm-interfaces/prometheus-scrape.js';

const PER_SOURCE_OFF = 'on() (max(turku_metrics_per_source) == 0)';

export const TURKU_ALERT_RULES: AlertRules = {
  groups: [
    {
      name: 'turku',
      rules: [
        {
          alert: 'TurkuSourceOverdue',
          expr: 'max by (machine, machine_uuid, source) (turku_source_overdue) == 1',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Source {{ $labels.source }} of {{ $labels.machine }} is overdue',
            description:
              'No successful backup of {{ $labels.source }} on {{ $labels.machine }} ({{ $labels.machine_uuid }}) within two of its periods.',
          },
        },
        {
          alert: 'TurkuSourcesOverdue',
          expr: `max(turku_sources{state="overdue"}) > 0 and ${PER_SOURCE_OFF}`,
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: '{{ $value }} sources are overdue',
            description: 'Sources without a successful backup within two of their periods (per-source series are off).',
          },
        },
        {
          alert: 'TurkuSourceFailing',
          expr: 'max by (machine, machine_uuid, source) (turku_source_consecutive_failures) >= 3',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Source {{ $labels.source }} of {{ $labels.machine }} failed {{ $value }} times in a row',
            description: 'The last {{ $value }} backups of {{ $labels.source }} on {{ $labels.machine }} failed.',
          },
        },
        {
          alert: 'TurkuSourcesFailing',
          expr: `max(turku_sources_failing_repeatedly) > 0 and ${PER_SOURCE_OFF}`,
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: '{{ $value }} sources failed 3 or more times in a row',
            description: 'Sources whose last three or more backups failed (per-source series are off).',
          },
        },
        {
          alert: 'TurkuStorageHighWater',
          expr: 'max by (storage) (1 - turku_storage_free_bytes / (turku_storage_total_bytes > 0)) > 0.8',
          for: '15m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Storage {{ $labels.storage }} is {{ $value | humanizePercentage }} full',
            description: 'Storage {{ $labels.storage }} is over its 80% high-water mark.',
          },
        },
        {
          alert: 'TurkuAgentSilent',
          expr: 'time() - max by (machine, machine_uuid) (turku_machine_last_checkin_timestamp_seconds) > 3600',
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'Agent {{ $labels.machine }} has not checked in for an hour',
            description:
              'Machine {{ $labels.machine }} ({{ $labels.machine_uuid }}) last checked in {{ $value | humanizeDuration }} ago.',
          },
        },
        {
          alert: 'TurkuAgentsSilent',
          expr: `time() - max(turku_machines_oldest_checkin_timestamp_seconds) > 3600 and ${PER_SOURCE_OFF}`,
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: 'An agent has not checked in for {{ $value | humanizeDuration }}',
            description: 'At least one machine has not checked in for an hour (per-source series are off).',
          },
        },
        {
          alert: 'TurkuVerifyFailed',
          expr: 'max(turku_sources_verify_failed) > 0',
          for: '0m',
          labels: { severity: 'critical' },
          annotations: {
            summary: '{{ $value }} sources failed their latest restore verify',
            description:
              'A storage verified a snapshot and found problems: see `turku-api health` or the health action.',
          },
        },
      ],
    },
  ],
};
