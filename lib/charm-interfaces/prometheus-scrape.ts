// Interface `prometheus_scrape` (provider side), as the charm-relation-interfaces repository
// specifies it (interfaces/prometheus_scrape/v0: README.md, schema.py, schemas/provider.json) and
// as the prometheus_scrape charm library writes it: every value of the application bag is JSON
// text (`scrape_jobs`, `scrape_metadata`, `alert_rules`), and each unit says where it is scraped.
// docs/relations.md, "prometheus_scrape and grafana_dashboard".
import * as z from 'zod/mini';

import { jsonField } from '../charm/schemas.js';
import { writeBag } from './fields.js';

export const PROMETHEUS_SCRAPE_INTERFACE = 'prometheus_scrape';

/** The Juju topology a provider describes itself with (`scrape_metadata`, dashboards' `juju_topology`). */
export interface JujuTopology {
  readonly model: string;
  readonly model_uuid: string;
  readonly application: string;
  readonly unit: string;
}

const Labels = z.record(z.string(), z.string());

export const AlertRule = z.object({
  alert: z.string(),
  expr: z.string(),
  for: z.string(),
  labels: Labels,
  annotations: Labels,
});
export type AlertRule = z.output<typeof AlertRule>;

export const AlertRules = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(AlertRule) })) });
export type AlertRules = z.output<typeof AlertRules>;

export const ScrapeJob = z.object({
  job_name: z.optional(z.string()),
  metrics_path: z.string(),
  static_configs: z.array(z.object({ targets: z.array(z.string()), labels: z.optional(Labels) })),
  scrape_interval: z.optional(z.string()),
});
export type ScrapeJob = z.output<typeof ScrapeJob>;

export const ScrapeMetadata = z.object({
  model: z.string(),
  model_uuid: z.string(),
  application: z.string(),
  unit: z.string(),
  charm_name: z.string(),
});

export const PrometheusScrapeAppBag = z.object({
  alert_rules: jsonField(AlertRules),
  scrape_jobs: jsonField(z.array(ScrapeJob)),
  scrape_metadata: jsonField(ScrapeMetadata),
});
export type PrometheusScrapeAppBag = z.output<typeof PrometheusScrapeAppBag>;

export const PrometheusScrapeUnitBag = z.object({
  prometheus_scrape_unit_address: z.string().check(z.minLength(1)),
  prometheus_scrape_unit_name: z.string().check(z.minLength(1)),
});
export type PrometheusScrapeUnitBag = z.output<typeof PrometheusScrapeUnitBag>;

/** The topology labels the library puts on every alert rule (the requirer injects them into expressions). */
export function topologyLabels(topology: JujuTopology): Record<string, string> {
  return {
    juju_model: topology.model,
    juju_model_uuid: topology.model_uuid,
    juju_application: topology.application,
  };
}

/**
 * Provider leader: the application bag. Every rule gets the topology labels; group names are
 * prefixed with the topology as the library does, so two applications' groups never clash.
 */
export function writePrometheusScrapeApp(input: {
  readonly topology: JujuTopology;
  readonly charmName: string;
  readonly jobs: readonly ScrapeJob[];
  readonly rules: AlertRules;
}): Record<string, string> {
  const { topology } = input;
  const prefix = `${topology.model}_${topology.model_uuid.slice(0, 8)}_${topology.application}`;
  const groups = input.rules.groups.map((group) => ({
    name: `${prefix}_${group.name}`,
    rules: group.rules.map((rule) => ({ ...rule, labels: { ...rule.labels, ...topologyLabels(topology) } })),
  }));
  return writeBag(PrometheusScrapeAppBag, {
    alert_rules: { groups },
    scrape_jobs: [...input.jobs],
    scrape_metadata: { ...topology, charm_name: input.charmName },
  });
}

/** Each provider unit: where Prometheus reaches it (the job's `*:<port>` target takes this host). */
export function writePrometheusScrapeUnit(value: PrometheusScrapeUnitBag): Record<string, string> {
  return writeBag(PrometheusScrapeUnitBag, value);
}
