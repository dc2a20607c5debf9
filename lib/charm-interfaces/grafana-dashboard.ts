// Interface `grafana_dashboard` (provider side), as the grafana_dashboard charm library writes it
// (lib/charms/grafana_k8s/v0/grafana_dashboard.py, its module documentation and
// GrafanaDashboardProvider): one application key, `dashboards`, JSON text holding the dashboard
// templates by id; each template's `content` is the dashboard JSON, LZMA-compressed and base64
// encoded (cosl's LZMABase64: Python's lzma.decompress reads the .lzma format written here).
// docs/relations.md, "prometheus_scrape and grafana_dashboard".
import { createHash } from 'node:crypto';

import lzmaCoder from 'lzma/src/lzma_worker.js';
import * as z from 'zod/mini';

import { jsonField } from '../charm/schemas.js';
import { writeBag } from './fields.js';
import type { JujuTopology } from './prometheus-scrape.js';

export const GRAFANA_DASHBOARD_INTERFACE = 'grafana_dashboard';

export const DashboardTemplate = z.object({
  charm: z.string(),
  content: z.string(),
  juju_topology: z.object({
    model: z.string(),
    model_uuid: z.string(),
    application: z.string(),
    unit: z.string(),
  }),
  inject_dropdowns: z.boolean(),
  dashboard_alt_uid: z.string(),
});
export type DashboardTemplate = z.output<typeof DashboardTemplate>;

export const GrafanaDashboardAppBag = z.object({
  dashboards: jsonField(z.object({ templates: z.record(z.string(), DashboardTemplate), uuid: z.string() })),
});

/** Python's lzma preset 6, its default. */
const LZMA_MODE = 6;

/** The library's `LZMABase64.compress`: LZMA, then base64. */
export function lzmaBase64(text: string): string {
  return Buffer.from(lzmaCoder.LZMA_WORKER.compress(text, LZMA_MODE)).toString('base64');
}

/** The library's alternative uid: shake_256 of "<charm>-<id>", 8 bytes in hex. */
export function dashboardAltUid(charmName: string, id: string): string {
  return createHash('shake256', { outputLength: 8 }).update(`${charmName}-${id}`).digest('hex');
}

/**
 * A UUID-shaped digest of the templates: the library sends a fresh uuid4 so that a changed bag
 * always fires relation-changed; one derived from the content does that too, without firing on
 * every hook when nothing changed.
 */
function contentUuid(templates: unknown): string {
  const hex = createHash('sha256').update(JSON.stringify(templates)).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Provider leader: the application bag for dashboards given by file name stem (id `file:<stem>`). */
export function writeGrafanaDashboardApp(input: {
  readonly charmName: string;
  readonly topology: JujuTopology;
  readonly dashboards: Readonly<Record<string, unknown>>;
}): Record<string, string> {
  const templates: Record<string, DashboardTemplate> = {};
  for (const [stem, dashboard] of Object.entries(input.dashboards)) {
    const id = `file:${stem}`;
    templates[id] = {
      charm: input.charmName,
      content: lzmaBase64(JSON.stringify(dashboard)),
      juju_topology: { ...input.topology },
      inject_dropdowns: true,
      dashboard_alt_uid: dashboardAltUid(input.charmName, id),
    };
  }
  return writeBag(GrafanaDashboardAppBag, { dashboards: { templates, uuid: contentUuid(templates) } });
}
