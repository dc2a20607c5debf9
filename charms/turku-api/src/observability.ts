// The Canonical Observability Stack relations (docs/relations.md, "prometheus_scrape and
// grafana_dashboard"): `metrics-endpoint` tells Prometheus to scrape every unit's /metrics and
// carries the alert rules; `grafana-dashboard` carries the dashboard. The leader writes the
// application bags, every unit its own address.
import type { HookTools, JujuCommon } from '../../../lib/charm/index.js';
import { writeGrafanaDashboardApp } from '../../../lib/charm-interfaces/grafana-dashboard.js';
import {
  type JujuTopology,
  type ScrapeJob,
  writePrometheusScrapeApp,
  writePrometheusScrapeUnit,
} from '../../../lib/charm-interfaces/prometheus-scrape.js';
import { TURKU_ALERT_RULES } from './cos/alert-rules.js';
import { TURKU_DASHBOARD } from './cos/dashboard.js';

export const METRICS_ENDPOINT = 'metrics-endpoint';
export const GRAFANA_DASHBOARD_ENDPOINT = 'grafana-dashboard';
const CHARM_NAME = 'turku-api';

export function topologyOf(juju: JujuCommon): JujuTopology {
  return { model: juju.model.name, model_uuid: juju.model.uuid, application: juju.app, unit: juju.unit };
}

/** One job for the whole application: `*` stands for each unit's `prometheus_scrape_unit_address`. */
export function scrapeJobs(port: number): ScrapeJob[] {
  return [{ metrics_path: '/metrics', static_configs: [{ targets: [`*:${port}`] }] }];
}

export async function publishObservability(
  tools: HookTools,
  juju: JujuCommon,
  input: { readonly port: number; readonly leader: boolean },
): Promise<void> {
  const topology = topologyOf(juju);
  const metrics = await tools.relationIds(METRICS_ENDPOINT);
  if (metrics.length > 0) {
    const network = await tools.networkGet(METRICS_ENDPOINT);
    const address = network['ingress-addresses'][0];
    for (const relation of metrics) {
      if (address !== undefined) {
        const unitBag = { prometheus_scrape_unit_address: address, prometheus_scrape_unit_name: juju.unit };
        await tools.relationSet(relation, writePrometheusScrapeUnit(unitBag));
      }
      if (input.leader) {
        const appBag = writePrometheusScrapeApp({
          topology,
          charmName: CHARM_NAME,
          jobs: scrapeJobs(input.port),
          rules: TURKU_ALERT_RULES,
        });
        await tools.relationSet(relation, appBag, { app: true });
      }
    }
  }
  if (!input.leader) return;
  for (const relation of await tools.relationIds(GRAFANA_DASHBOARD_ENDPOINT)) {
    const bag = writeGrafanaDashboardApp({
      charmName: CHARM_NAME,
      topology,
      dashboards: { 'turku-api': TURKU_DASHBOARD },
    });
    await tools.relationSet(relation, bag, { app: true });
  }
}
