// The COS relations through the Juju fake with the real workload: the databags turku-api writes on
// `metrics-endpoint` and `grafana-dashboard` validate against the interfaces' schemas
// (cos/testdata/, restated from charm-relation-interfaces and the grafana_dashboard library), the
// scrape job points at a /metrics that answers, and the dashboard decompresses as the Grafana
// charm decompresses it.
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

import AjvModule from 'ajv';
import lzmaCoder from 'lzma/src/lzma_worker.js';

import { type Context, type RelationState, type State, events } from '../../../lib/charm-testing/scenario.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { freePort } from '../../../tests/support/processes.js';
import { apiCharmContext } from './__tests__/charm-context.js';
import { TURKU_ALERT_RULES } from './cos/alert-rules.js';
import { TURKU_DASHBOARD } from './cos/dashboard.js';

jest.setTimeout(60_000);

interface InterfaceFixture {
  readonly application: object;
  readonly unit: object;
}
const fixture = async (name: string) =>
  JSON.parse(await readFile(new URL(`cos/testdata/${name}.json`, import.meta.url), 'utf8')) as InterfaceFixture;
const PROMETHEUS_SCRAPE = await fixture('prometheus_scrape-v0');
const GRAFANA_DASHBOARD = await fixture('grafana_dashboard-v0');

// ajv is CommonJS: under NodeNext the default import is module.exports, whose `.default` is the class.
const Ajv = AjvModule.default;
const ajv = new Ajv({ strict: false, allErrors: true });

/** Schema problems of an application bag (every value JSON text) or a unit bag, as strings. */
function problems(schema: object, bag: Record<string, string> | undefined, jsonValues: boolean): string[] {
  let value: unknown = bag ?? {};
  if (jsonValues) {
    const decoded: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(bag ?? {})) {
      try {
        decoded[key] = JSON.parse(text);
      } catch {
        return [`${key}: not JSON text`];
      }
    }
    value = decoded;
  }
  const validate = ajv.compile(schema);
  if (validate(value)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message ?? ''}`);
}

let roots: MachineRoots;
let ctx: Context;
let port: number;

beforeEach(async () => {
  roots = await new MachineRoots().init();
  ctx = apiCharmContext(() => roots);
  port = await freePort();
});
afterEach(() => roots.cleanup());

const related = (leader: boolean): State => ({
  leader,
  config: { port },
  relations: [
    { id: 7, endpoint: 'metrics-endpoint', remoteApp: 'prometheus', remoteEndpoint: 'metrics-endpoint' },
    { id: 8, endpoint: 'grafana-dashboard', remoteApp: 'grafana', remoteEndpoint: 'grafana-dashboard' },
  ],
});
const relationOf = (state: State, endpoint: string): RelationState =>
  state.relations!.find((candidate) => candidate.endpoint === endpoint)!;

describe('metrics-endpoint (prometheus_scrape)', () => {
  test('the leader writes scrape jobs, metadata and alert rules as the interface specifies; the job scrapes', async () => {
    const out = await ctx.run(events.install(), related(true));
    expect(out.exitCode).toBe(0);
    const bag = relationOf(out.state as State, 'metrics-endpoint');
    expect(problems(PROMETHEUS_SCRAPE.application, bag.localAppData, true)).toEqual([]);
    expect(problems(PROMETHEUS_SCRAPE.unit, bag.localUnitData, false)).toEqual([]);

    const app = bag.localAppData!;
    expect(JSON.parse(app.scrape_jobs!)).toEqual([
      { metrics_path: '/metrics', static_configs: [{ targets: [`*:${port}`] }] },
    ]);
    const metadata = JSON.parse(app.scrape_metadata!) as Record<string, string>;
    expect(metadata).toMatchObject({ application: 'turku-api', unit: 'turku-api/0', charm_name: 'turku-api' });
    const rules = JSON.parse(app.alert_rules!) as typeof TURKU_ALERT_RULES;
    expect(rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert))).toEqual(
      TURKU_ALERT_RULES.groups.flatMap((group) => group.rules.map((rule) => rule.alert)),
    );
    // Topology labels on every rule, none in the expressions (the requirer injects those).
    for (const rule of rules.groups[0]!.rules) {
      expect(rule.labels).toMatchObject({
        juju_model: metadata.model,
        juju_model_uuid: metadata.model_uuid,
        juju_application: 'turku-api',
      });
      expect(rule.expr).not.toContain('juju_');
    }
    expect(bag.localUnitData).toMatchObject({ prometheus_scrape_unit_name: 'turku-api/0' });

    // What the job names answers: the unit's /metrics on the configured port.
    const address = `127.0.0.1:${port}`;
    const [job] = JSON.parse(app.scrape_jobs!) as { metrics_path: string }[];
    const scraped = await fetch(`http://${address}${job!.metrics_path}`);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toMatch(/^turku_sources\{state="ok"\} 0$/m);
  });

  test('a non-leader writes only its own address', async () => {
    const out = await ctx.run(events.install(), related(false));
    expect(out.exitCode).toBe(0);
    const bag = relationOf(out.state as State, 'metrics-endpoint');
    expect(bag.localAppData ?? {}).toEqual({});
    expect(problems(PROMETHEUS_SCRAPE.unit, bag.localUnitData, false)).toEqual([]);
    expect(relationOf(out.state as State, 'grafana-dashboard').localAppData ?? {}).toEqual({});
  });

  test('the schema refuses what the interface refuses (the check can fail)', () => {
    const rule = { alert: 'A', expr: 'up == 0', labels: {}, annotations: {} };
    const noFor = { alert_rules: JSON.stringify({ groups: [{ name: 'g', rules: [rule] }] }), scrape_jobs: '[]' };
    expect(problems(PROMETHEUS_SCRAPE.application, noFor, true)).toEqual(
      expect.arrayContaining([" must have required property 'scrape_metadata'", expect.stringMatching(/for/)]),
    );
    expect(problems(PROMETHEUS_SCRAPE.unit, { prometheus_scrape_unit_name: 'turku-api/0' }, false)).not.toEqual([]);
  });
});

describe('grafana-dashboard (grafana_dashboard)', () => {
  test('the leader sends the dashboard LZMA-compressed in base64, readable by xz as by Python', async () => {
    const out = await ctx.run(events.install(), related(true));
    expect(out.exitCode).toBe(0);
    const bag = relationOf(out.state as State, 'grafana-dashboard');
    expect(problems(GRAFANA_DASHBOARD.application, bag.localAppData, true)).toEqual([]);
    expect(problems(GRAFANA_DASHBOARD.unit, bag.localUnitData, false)).toEqual([]);
    const dashboards = JSON.parse(bag.localAppData!.dashboards!) as {
      templates: Record<string, { charm: string; content: string; juju_topology: Record<string, string> }>;
    };
    expect(Object.keys(dashboards.templates)).toEqual(['file:turku-api']);
    const template = dashboards.templates['file:turku-api']!;
    expect(template).toMatchObject({
      charm: 'turku-api',
      juju_topology: { application: 'turku-api', unit: 'turku-api/0' },
    });
    const compressed = Buffer.from(template.content, 'base64');
    expect(JSON.parse(lzmaCoder.LZMA_WORKER.decompress(compressed) as string)).toEqual(TURKU_DASHBOARD);
    // xz's auto-detection is liblzma's, which Python's lzma.decompress (cosl's LZMABase64) uses.
    const byXz = execFileSync('xz', ['--decompress', '--format=auto', '--stdout'], { input: compressed });
    expect(JSON.parse(byXz.toString('utf8'))).toEqual(TURKU_DASHBOARD);

    // The same content keeps the same bag: no relation-changed churn on every hook.
    const again = await ctx.run(events.updateStatus(), out.state);
    expect(relationOf(again.state as State, 'grafana-dashboard').localAppData).toEqual(bag.localAppData);
  });
});
