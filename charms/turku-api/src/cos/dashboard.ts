// The Grafana dashboard turku-api sends over `grafana-dashboard` (docs/api.md, "Grafana
// dashboard"); charms/turku-api/cos/turku-api.dashboard.json is the same (a test keeps them equal)
// for importing by hand. Queries use the `prometheusds` datasource variable, as COS dashboards do
// (the Grafana charm fills it); `max` folds the copies several API units export of the same fleet.

const DATASOURCE = { type: 'prometheus', uid: '${prometheusds}' };

interface Target {
  readonly expr: string;
  readonly legendFormat: string;
}

let nextId = 1;

function panel(
  title: string,
  type: 'stat' | 'timeseries' | 'table',
  gridPos: { x: number; y: number; w: number; h: number },
  targets: readonly Target[],
  fieldConfig: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    id: nextId++,
    title,
    type,
    datasource: DATASOURCE,
    gridPos,
    targets: targets.map((target, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      ...target,
    })),
    fieldConfig: { defaults: fieldConfig, overrides: [] },
    ...extra,
  };
}

const stat = (title: string, x: number, expr: string, color: string) =>
  panel(
    title,
    'stat',
    { x, y: 0, w: 6, h: 4 },
    [{ expr, legendFormat: title }],
    { color: { mode: 'fixed', fixedColor: color }, unit: 'none' },
    { options: { reduceOptions: { calcs: ['lastNotNull'] }, colorMode: 'background' } },
  );

export const TURKU_DASHBOARD = {
  title: 'Turku backups',
  uid: 'turku-backups',
  tags: ['turku', 'backups'],
  timezone: 'browser',
  schemaVersion: 39,
  version: 1,
  editable: true,
  refresh: '1m',
  time: { from: 'now-24h', to: 'now' },
  templating: {
    list: [{ name: 'prometheusds', label: 'Prometheus', type: 'datasource', query: 'prometheus', hide: 0 }],
  },
  panels: [
    stat('Sources OK', 0, 'max(turku_sources{state="ok"})', 'green'),
    stat('Sources failing', 6, 'max(turku_sources{state="failing"})', 'orange'),
    stat('Sources overdue', 12, 'max(turku_sources{state="overdue"})', 'red'),
    stat('Failed verifies', 18, 'max(turku_sources_verify_failed)', 'purple'),
    panel(
      'Storage used',
      'timeseries',
      { x: 0, y: 4, w: 12, h: 8 },
      [
        {
          expr: 'max by (storage) (1 - turku_storage_free_bytes / (turku_storage_total_bytes > 0))',
          legendFormat: '{{storage}}',
        },
      ],
      {
        unit: 'percentunit',
        min: 0,
        max: 1,
        thresholds: {
          mode: 'absolute',
          steps: [
            { color: 'green', value: null },
            { color: 'red', value: 0.8 },
          ],
        },
        custom: { thresholdsStyle: { mode: 'line' } },
      },
    ),
    panel(
      'Storage free',
      'timeseries',
      { x: 12, y: 4, w: 12, h: 8 },
      [
        { expr: 'max by (storage) (turku_storage_free_bytes)', legendFormat: '{{storage}} free' },
        { expr: 'max by (storage) (turku_storage_total_bytes)', legendFormat: '{{storage}} total' },
      ],
      { unit: 'bytes' },
    ),
    panel(
      'Backups per hour by result',
      'timeseries',
      { x: 0, y: 12, w: 12, h: 8 },
      [{ expr: 'sum by (result) (increase(turku_backups_total[1h]))', legendFormat: '{{result}}' }],
      { unit: 'none', custom: { drawStyle: 'bars', stacking: { mode: 'normal' } } },
    ),
    panel(
      'Check-in latency',
      'timeseries',
      { x: 12, y: 12, w: 12, h: 8 },
      [0.5, 0.95, 0.99].map((q) => ({
        expr: `histogram_quantile(${q}, sum by (le) (rate(turku_api_request_duration_seconds_bucket{view="agent_ping_checkin"}[5m])))`,
        legendFormat: `p${Math.round(q * 100)}`,
      })),
      { unit: 's' },
    ),
    panel(
      'Check-ins per minute by result',
      'timeseries',
      { x: 0, y: 20, w: 12, h: 8 },
      [{ expr: 'sum by (kind, result) (rate(turku_checkins_total[5m])) * 60', legendFormat: '{{kind}} {{result}}' }],
      { unit: 'none' },
    ),
    panel(
      'Overdue and failing sources',
      'table',
      { x: 12, y: 20, w: 12, h: 8 },
      [
        {
          expr: 'max by (machine, source) (turku_source_overdue) == 1 or max by (machine, source) (turku_source_consecutive_failures) > 0',
          legendFormat: '{{machine}} {{source}}',
        },
      ],
      {},
      { options: { showHeader: true }, transformations: [{ id: 'reduce', options: { reducers: ['lastNotNull'] } }] },
    ),
  ],
};
