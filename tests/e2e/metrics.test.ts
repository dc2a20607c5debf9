import { jest } from '@jest/globals';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { execa } from 'execa';

import { listStorages } from '../../lib/api/admin/commands.js';
import { createWorld, type AgentUnit, type StorageUnit, type World } from '../support/datapath-world.js';
import { writeSampleTree } from '../support/datasets.js';
import { freePort, REPO_ROOT } from '../support/processes.js';

/**
 * A real Prometheus (Debian's `prometheus`) scraping a real turku-api after real backups
 * (docs/api.md, "Metrics"): with the charm's rule file loaded, a PromQL query finds the overdue
 * source and the storage's free bytes, and the overdue alert fires; every query of the charm's
 * Grafana dashboard answers, its summary panels showing this fleet.
 */

jest.setTimeout(120_000);

const RULES = join(REPO_ROOT, 'charms/turku-api/cos/turku-api.rules.yaml');
const DASHBOARD = join(REPO_ROOT, 'charms/turku-api/cos/turku-api.dashboard.json');
const HOUR = 3_600_000;

let world: World;
let storage: StorageUnit;
let agent: AgentUnit;
let stopPrometheus: (() => Promise<void>) | undefined;
let prometheusUrl: string;
let data: string;

beforeAll(async () => {
  world = await createWorld('metrics');
  storage = await world.addStorage('primary');
  agent = await world.addAgent('app');
  data = join(world.root, 'data');
  await writeSampleTree(data);
  await agent.setSources({ etc: { path: data } });
});
afterAll(async () => {
  await stopPrometheus?.();
  await world?.destroy();
});

interface Sample {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

async function query(promql: string): Promise<Sample[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { status: string; data: { result: Sample[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}

/** Every PromQL query of the shipped Grafana dashboard, with its panel's title. */
async function dashboardQueries(): Promise<{ panel: string; expr: string }[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const found: { panel: string; expr: string }[] = [];
  const walk = (panels: readonly Panel[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) if (target.expr) found.push({ panel: panel.title, expr: target.expr });
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  return found;
}

/** Asks until `found` holds for the answer (Prometheus scrapes and evaluates every second here). */
async function eventually<T>(ask: () => Promise<T>, found: (answer: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await ask();
    if (found(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(answer)}`);
    await sleep(500);
  }
}

async function startPrometheus(target: string): Promise<void> {
  const dir = join(world.root, 'prometheus');
  await mkdir(join(dir, 'data'), { recursive: true });
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: [${JSON.stringify(RULES)}]`,
      'scrape_configs:',
      `  - { job_name: turku-api, metrics_path: /metrics, static_configs: [{ targets: [${JSON.stringify(target)}] }] }`,
      '',
    ].join('\n'),
  );
  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const prometheus = execa(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { all: true, reject: false },
  );
  stopPrometheus = async () => {
    prometheus.kill('SIGTERM');
    await prometheus;
  };
  await eventually(
    () =>
      fetch(`${prometheusUrl}/-/ready`).then(
        (response) => response.status,
        () => 0,
      ),
    (status) => status === 200,
    'prometheus ready',
  );
}

test('after a real backup, PromQL finds the overdue source and the free bytes, and the alert fires', async () => {
  await world.register(storage, agent);
  const uuid = await agent.uuid();
  await world.backUp(agent, 'etc');
  // `cache`, hourly, is added after that backup and never backed up. Added before it, it could
  // fall due at the same ping: a new source's first backup is at a hashed point of its first
  // 15 minutes, which may be the few seconds the test took to get there.
  await agent.setSources({ etc: { path: data }, cache: { path: data, frequency: 'hourly' } });
  expect((await agent.updateConfig()).exitCode).toBe(0);

  // Three hours on in the API's time: `cache` (hourly, never backed up) is overdue, `etc` (daily) not.
  world.api.clock = new Date(world.api.clock.getTime() + 3 * HOUR);
  const target = new URL(world.api.url).host;
  await startPrometheus(target);

  const overdue = await eventually(
    () => query('turku_source_overdue == 1'),
    (result) => result.length > 0,
    'overdue sources',
  );
  expect(overdue.map((sample) => sample.metric)).toEqual([
    expect.objectContaining({ source: 'cache', machine: 'app/0', machine_uuid: uuid, job: 'turku-api' }),
  ]);
  const succeeded = await query('turku_source_last_success_timestamp_seconds');
  expect(succeeded.map((sample) => sample.metric.source)).toEqual(['etc']);

  const [free] = await query('turku_storage_free_bytes{storage="primary"}');
  const [known] = await listStorages(world.api.api.ctx);
  expect(Number(free!.value[1])).toBe(Math.round(known!.space_available_mib * 2 ** 20));
  expect(Number(free!.value[1])).toBeGreaterThan(0);

  const alerts = await eventually(
    async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/alerts`);
      const body = (await response.json()) as { data: { alerts: { labels: Record<string, string>; state: string }[] } };
      return body.data.alerts;
    },
    (found) => found.some((alert) => alert.labels.alertname === 'TurkuSourceOverdue' && alert.state === 'firing'),
    'the overdue alert',
  );
  expect(alerts.find((alert) => alert.labels.alertname === 'TurkuSourceOverdue')!.labels).toMatchObject({
    source: 'cache',
    machine: 'app/0',
    severity: 'warning',
  });
  expect(await query('ALERTS{alertname="TurkuSourceOverdue",alertstate="firing"}')).toHaveLength(1);
  // The API counted what it did: one backup, its successful check-ins.
  expect(await query('turku_backups_total{result="success"} == 1')).toHaveLength(1);

  // The Grafana dashboard (no Grafana can run here): every panel's query, asked of the same
  // Prometheus, is valid PromQL over these series, and the summary panels show this fleet.
  const panels = await dashboardQueries();
  expect(panels.length).toBeGreaterThanOrEqual(10);
  const answers = new Map<string, Sample[]>();
  for (const { expr } of panels) answers.set(expr, await query(expr));
  const only = (panel: string) => {
    const exprs = panels.filter((p) => p.panel === panel).map((p) => p.expr);
    expect(exprs).toHaveLength(1);
    return answers.get(exprs[0]!)!;
  };
  expect(only('Sources OK').map((sample) => sample.value[1])).toEqual(['1']);
  expect(only('Sources overdue').map((sample) => sample.value[1])).toEqual(['1']);
  expect(only('Sources failing').map((sample) => sample.value[1])).toEqual(['0']);
  const freeSeries = panels.find((p) => p.panel === 'Storage free' && p.expr.includes('free_bytes'))!;
  expect(answers.get(freeSeries.expr)!.map((sample) => [sample.metric.storage, sample.value[1]])).toEqual([
    ['primary', free!.value[1]],
  ]);
  expect(only('Overdue and failing sources').map((sample) => sample.metric)).toEqual([
    { machine: 'app/0', source: 'cache' },
  ]);
});
