import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createWorkloadLogger } from '../../common/workload-log.js';
import { parseStorageSettings, type StorageSettings } from '../settings.js';
import type { VerifyOutcome, VerifyRequest, VerifySnapshot } from '../verify/outcome.js';
import { MIN_SAMPLE_BYTES } from './plan.js';
import type { VerifyReporter } from './report.js';
import { runSampleVerify, sampleTargets } from './run.js';
import { statePath } from './state.js';

/** One run of the periodic sample verify against a storage tree, with a verify double. */

const M1 = '11111111-1111-4111-8111-111111111111';
const M2 = '22222222-2222-4222-8222-222222222222';
const HOUR = 60 * 60 * 1000;
const MIB = 1024 * 1024;

let dir: string;
let settings: StorageSettings;
let lines: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'turku-sample-verify-'));
  settings = parseStorageSettings({
    name: 'primary',
    secret: 's',
    api_url: 'http://127.0.0.1:9/v1',
    volumes: { v: { path: join(dir, 'volume') } },
    var_dir: join(dir, 'var'),
    lock_dir: dir,
    verify_bytes_per_day: 24 * 4 * MIN_SAMPLE_BYTES, // an hour's share: four sources' worth
  });
  lines = [];
  // Two machines: M1 with two link-dest sources (one without snapshots yet), M2 with one of each mode.
  const snapshots: [string, string, string[]][] = [
    [M1, 'etc.snapshots', ['2024-01-01T00:00:00', '2024-01-02T00:00:00']],
    [M1, 'empty.snapshots', []],
    [M1, 'home.snapshots', ['2024-01-03T00:00:00']],
    [M2, 'var.snapshots', ['2024-01-01T00:00:00']],
    [M2, 'db.borg', []],
  ];
  for (const [machine, sub, names] of snapshots) {
    await mkdir(join(dir, 'volume', machine, sub), { recursive: true });
    for (const name of names) await mkdir(join(dir, 'volume', machine, sub, name), { recursive: true });
  }
  await mkdir(join(dir, 'var', 'machines'), { recursive: true });
  for (const machine of [M1, M2]) await symlink(join(dir, 'volume', machine), join(dir, 'var', 'machines', machine));
});

afterEach(() => rm(dir, { recursive: true, force: true }));

const log = () => createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: (line) => lines.push(line) });

/** A verify double: what was asked, and an outcome with `problems` for the sources named. */
function verifyDouble(failing: Record<string, VerifyOutcome['problems']> = {}) {
  const requests: VerifyRequest[] = [];
  const verify: VerifySnapshot = (request) => {
    requests.push(request);
    const bytes = Math.min(request.sample?.maxBytes ?? 0, 10 * MIB);
    return Promise.resolve({
      source: request.source,
      snapshot: request.snapshot === 'latest' ? 'db-2024-01-05' : request.snapshot,
      checkedFiles: 3,
      checkedBytes: bytes,
      complete: false,
      problems: failing[request.source] ?? [],
    });
  };
  return { verify, requests };
}

function reporterDouble() {
  const reports: { machine: string; outcome: VerifyOutcome }[] = [];
  const report: VerifyReporter = (machine, outcome) => {
    reports.push({ machine, outcome });
    return Promise.resolve('sent');
  };
  return { report, reports };
}

test('the targets: every source with a snapshots directory, by machine; borg repositories are not sampled', async () => {
  const targets = await sampleTargets(settings.var_dir);
  expect(targets.map((t) => `${t.machine.slice(0, 1)} ${t.source} ${t.mode}`)).toEqual([
    '1 empty link-dest',
    '1 etc link-dest',
    '1 home link-dest',
    '2 var link-dest',
  ]);
});

test('a snapshot without a manifest (taken before manifests existed) is logged, never reported as a failure', async () => {
  const noManifest = [{ path: '', kind: 'no-manifest' as const, detail: 'no manifest' }];
  const double = verifyDouble({ etc: noManifest, home: noManifest, var: noManifest });
  const reporter = reporterDouble();
  await runSampleVerify(settings, { verifySnapshot: double.verify, report: reporter.report, log: log() });
  expect(double.requests.length).toBeGreaterThan(0);
  expect(reporter.reports).toEqual([]);
  expect(lines.filter((line) => line.includes('has no manifest')).length).toBe(double.requests.length);
});

test('a run spends its share on the sources never checked, a random snapshot each, and reports each', async () => {
  const double = verifyDouble();
  const reporter = reporterDouble();
  const now = new Date('2024-02-01T10:00:00Z');
  const result = await runSampleVerify(settings, {
    verifySnapshot: double.verify,
    report: reporter.report,
    log: log(),
    now: () => now,
  });
  expect(result.ran).toBe(true);
  expect(result.share).toBe(4 * MIN_SAMPLE_BYTES);
  // Four visits; the source without snapshots costs nothing and is skipped.
  const asked = double.requests.map((r) => r.source).sort();
  expect(asked.length).toBeGreaterThanOrEqual(3);
  expect(new Set(asked).size).toBe(asked.length);
  // Each of four visits gets at least a quarter: what one leaves unread (or a source without
  // snapshots leaves untouched) goes to the ones after it.
  for (const request of double.requests) expect(request.sample!.maxBytes).toBeGreaterThanOrEqual(MIN_SAMPLE_BYTES);
  expect(double.requests.at(-1)!.sample!.maxBytes).toBeGreaterThan(MIN_SAMPLE_BYTES);
  const spent = result.verified.reduce((sum, outcome) => sum + outcome.checkedBytes, 0);
  expect(spent).toBeLessThanOrEqual(result.share);
  for (const request of double.requests) {
    expect(request.mode).toBe(request.source === 'db' ? 'borg' : 'link-dest');
    if (request.mode === 'borg') expect(request.snapshot).toBe('latest');
    else expect(request.snapshot).toMatch(/^2024-01-0\dT00:00:00$/);
  }
  expect(reporter.reports.map((r) => r.outcome.source).sort()).toEqual(asked);
  const state = JSON.parse(await readFile(statePath(settings.var_dir), 'utf8')) as {
    lastRun: number;
    checked: Record<string, { at: number }>;
  };
  expect(state.lastRun).toBe(now.getTime());
  expect(Object.keys(state.checked)).toHaveLength(asked.length);
});

test('the next run goes first to the sources the last one did not check', async () => {
  const first = verifyDouble();
  let now = new Date('2024-02-01T10:00:00Z');
  const deps = { report: reporterDouble().report, log: log(), now: () => now };
  await runSampleVerify(
    { ...settings, verify_bytes_per_day: 24 * 2 * MIN_SAMPLE_BYTES },
    { ...deps, verifySnapshot: first.verify },
  );
  now = new Date(now.getTime() + HOUR);
  const second = verifyDouble();
  await runSampleVerify(
    { ...settings, verify_bytes_per_day: 24 * 2 * MIN_SAMPLE_BYTES },
    { ...deps, verifySnapshot: second.verify },
  );
  const firstSources = first.requests.map((r) => r.source);
  for (const request of second.requests) expect(firstSources).not.toContain(request.source);
});

test('problems are logged and reported; a verify that cannot run is logged, not reported', async () => {
  const double = verifyDouble({ etc: [{ path: 'passwd', kind: 'content', detail: 'SHA-256 differs' }] });
  const broken: VerifySnapshot = (request) =>
    request.source === 'home' ? Promise.reject(new Error('no manifest reader')) : double.verify(request);
  const reporter = reporterDouble();
  await runSampleVerify(
    { ...settings, verify_bytes_per_day: 24 * 10 * MIN_SAMPLE_BYTES },
    { verifySnapshot: broken, report: reporter.report, log: log() },
  );
  expect(reporter.reports.map((r) => r.outcome.source).sort()).toEqual(['etc', 'var']);
  expect(reporter.reports.find((r) => r.outcome.source === 'etc')!.machine).toBe(M1);
  expect(lines.join('\n')).toMatch(/Verify of 1{8}-.* etc 2024-01-0\dT00:00:00 found 1 problems/);
  expect(lines.join('\n')).toContain('content "passwd": "SHA-256 differs"');
  expect(lines.join('\n')).toMatch(/Cannot verify 1{8}-.* home 2024-01-03T00:00:00: no manifest reader/);
});

test('a snapshot expired while it was read is not reported as a failure', async () => {
  const reporter = reporterDouble();
  const vanishing: VerifySnapshot = async (request) => {
    await rm(join(request.machineDir, `${request.source}.snapshots`, request.snapshot), { recursive: true });
    return {
      source: request.source,
      snapshot: request.snapshot,
      checkedFiles: 0,
      checkedBytes: 0,
      complete: false,
      problems: [{ path: 'x', kind: 'missing', detail: '' }],
    };
  };
  await runSampleVerify(
    { ...settings, verify_bytes_per_day: 24 * 10 * MIN_SAMPLE_BYTES },
    { verifySnapshot: vanishing, report: reporter.report, log: log() },
  );
  expect(reporter.reports).toEqual([]);
  expect(lines.join('\n')).toContain('was expired while it was verified; not reported');
});

test('0 bytes a day: off, nothing read, no state written', async () => {
  const double = verifyDouble();
  const result = await runSampleVerify(
    { ...settings, verify_bytes_per_day: 0 },
    { verifySnapshot: double.verify, report: reporterDouble().report, log: log() },
  );
  expect(result).toEqual({ ran: false, share: 0, verified: [] });
  expect(double.requests).toEqual([]);
  await expect(readFile(statePath(settings.var_dir))).rejects.toMatchObject({ code: 'ENOENT' });
});

test('an unreadable state file starts over with a warning', async () => {
  const { writeFile } = await import('node:fs/promises');
  await writeFile(statePath(settings.var_dir), '{"checked": 7}');
  const double = verifyDouble();
  await runSampleVerify(settings, { verifySnapshot: double.verify, report: reporterDouble().report, log: log() });
  expect(double.requests.length).toBeGreaterThan(0);
  expect(lines.join('\n')).toContain('is not a sample verify state; starting over');
});
