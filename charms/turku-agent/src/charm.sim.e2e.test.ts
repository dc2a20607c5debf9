// The turku-agent charm in the model simulator, in-process, with the real agent programs
// against a real turku-api (SQLite): deploy beside a principal, the API over the relation and over
// config, the principal's sources reaching sources.d and the API, bad sources, a relation
// removed, two units on two machines, and the actions against a storage (lib/agent's fake ssh
// storage: it answers the agent's restore requests as our storage does, without sshd).
import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type CharmDefinition, defineCharm, runCharm } from '../../../lib/charm/index.js';
import { agentApiSecretContent, writeAgentApi } from '../../../lib/charm-interfaces/index.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { ModelSimulator, type SimCharm } from '../../../lib/charm-testing/simulator.js';
import { isProcessAlive } from '../../../lib/charm-host/index.js';
import { listMachines, listSources } from '../../../lib/api/admin/commands.js';
import {
  apiWithStorage,
  fakeStorageScript,
  nodeScript,
  tempDir,
  waitFor,
  removeTempDirs,
  type ApiWithStorage,
} from '../../../lib/agent/__tests__/helpers.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { turkuAgentCharm } from './charm.js';

jest.setTimeout(120_000);

const CHARMCRAFT = fileURLToPath(new URL('../charmcraft.yaml', import.meta.url));

function inProcess(meta: string, definition: CharmDefinition): SimCharm {
  return { meta: parseCharmMeta(meta), executor: { kind: 'in-process', run: (io) => runCharm(definition, io) } };
}

/** A principal that publishes its `sources` config verbatim (bad JSON included) in its unit bag. */
const PRINCIPAL_META = `
name: principal
summary: x
description: x
provides:
  backup-sources:
    interface: turku-sources
    scope: container
config:
  options:
    sources: {type: string, default: ''}
`;
const principal = defineCharm({
  async reconcile(ctx) {
    const sources = String((await ctx.tools.configGet())['sources'] ?? '');
    for (const relation of await ctx.tools.relationIds('backup-sources')) {
      await ctx.tools.relationSet(relation, { sources });
    }
  },
});

/** The turku-api side of turku-agent-api as docs/relations.md has it: secret, grant, app bag in one hook. */
const API_META = `
name: api-stub
summary: x
description: x
provides:
  agents:
    interface: turku-agent-api
config:
  options:
    url: {type: string, default: ''}
    auth-name: {type: string, default: ''}
    auth-secret: {type: string, default: ''}
`;
const apiStub = defineCharm({
  async reconcile(ctx) {
    if (!(await ctx.tools.isLeader())) return;
    const config = await ctx.tools.configGet();
    for (const relation of await ctx.tools.relationIds('agents')) {
      const own = await ctx.tools.relationGet(relation, ctx.juju.app, { app: true });
      if (own['secret-id'] !== undefined) continue;
      const id = await ctx.tools.secretAdd(
        agentApiSecretContent({ name: String(config['auth-name']), secret: String(config['auth-secret']) }),
      );
      await ctx.tools.secretGrant(id, relation);
      await ctx.tools.relationSet(relation, writeAgentApi({ 'api-url': String(config['url']), 'secret-id': id }), {
        app: true,
      });
    }
  },
});

let roots: MachineRoots;
let api: ApiWithStorage;
let sim: ModelSimulator;
let apiHostPort: string;

const WEB_SOURCES = { etc: { path: '/etc' }, www: { path: '/srv/www', frequency: 'daily' } };

function machineOf(unit: string): string {
  return sim.model.units[unit]!.machine;
}
const onMachine = (unit: string, path: string) => roots.path(machineOf(unit), path);
const AGENTS = ['turku-agent/0', 'turku-agent/1'];

beforeAll(async () => {
  roots = await new MachineRoots().init();
  api = await apiWithStorage();
  apiHostPort = new URL(api.api.url).host;
  sim = new ModelSimulator({ seed: 3 });
  const agentCharm = inProcess(await readFile(CHARMCRAFT, 'utf8'), turkuAgentCharm(roots.hostFor));
  await sim.deploy('web', inProcess(PRINCIPAL_META, principal), {
    numUnits: 2,
    config: { sources: JSON.stringify(WEB_SOURCES) },
  });
  await sim.deploy('turku-agent', agentCharm);
  await sim.integrate('turku-agent:juju-info', 'web:juju-info');
  await sim.settle();
});

afterAll(async () => {
  await roots?.cleanup();
  await api?.api.close();
  await removeTempDirs();
});

describe('turku-agent in a model', () => {
  test('installs beside each principal unit and is blocked until it knows an API', async () => {
    expect(Object.keys(sim.model.units).sort()).toEqual(['turku-agent/0', 'turku-agent/1', 'web/0', 'web/1']);
    for (const unit of AGENTS) {
      expect(sim.workloadStatuses()[unit]).toBe(
        'blocked: needs the turku-api relation or the api-url, registration-name and registration-secret config',
      );
      // Installed: the programs on the PATH, nothing registered yet.
      const wrapper = await readFile(onMachine(unit, '/usr/local/bin/turku-update-config'), 'utf8');
      expect(wrapper).toContain('update-config-main.js');
      expect(existsSync(onMachine(unit, '/usr/local/bin/turku-agent-ping'))).toBe(true);
      expect(existsSync(onMachine(unit, '/etc/turku-agent/config.d/50-juju.json'))).toBe(false);
    }
  });

  test('config errors: blocked naming the keys', async () => {
    await sim.config('turku-agent', { 'api-url': 'https://turku.example.com/v1' });
    await sim.settle();
    expect(sim.workloadStatuses()['turku-agent/0']).toBe(
      'blocked: needs the turku-api relation or the api-url, registration-name and registration-secret config ' +
        '(missing: registration-name, registration-secret)',
    );
    await sim.config('turku-agent', { 'api-url': 'ftp://turku.example.com' });
    await sim.settle();
    expect(sim.workloadStatuses()['turku-agent/1']).toMatch(
      /^blocked: invalid config: api-url: expected an http\(s\) URL/,
    );
    await sim.resetConfig('turku-agent', ['api-url']);
    await sim.settle();
  });

  test('the turku-api relation: URL and secret reach config.d (0600), the machines register, the agent writes nothing', async () => {
    await sim.deploy('turku-api', inProcess(API_META, apiStub), {
      config: { url: api.api.url, 'auth-name': api.machineAuth.name, 'auth-secret': api.machineAuth.secret },
    });
    await sim.integrate('turku-agent:turku-api', 'turku-api:agents');
    await sim.settle();
    for (const unit of AGENTS) {
      expect(sim.workloadStatuses()[unit]).toBe(`active: 0 sources registered with ${apiHostPort}; no backup yet`);
      const file = onMachine(unit, '/etc/turku-agent/config.d/50-juju.json');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const principalUnit = sim.model.units[unit]!.principal!;
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({
        api_url: api.api.url,
        api_auth_name: api.machineAuth.name,
        api_auth_secret: api.machineAuth.secret,
        environment_name: sim.model.name,
        service_name: 'web',
        unit_name: principalUnit,
        var_dir: onMachine(unit, '/var/lib/turku-agent'),
        lock_dir: onMachine(unit, '/var/lib/turku-agent'),
        restore_path: onMachine(unit, '/var/backups/turku-agent/restore'),
      });
      // The timers (cron here: the root has no systemd) run the agent with the charm's config dir,
      // as the machine itself sees it.
      expect(await readFile(onMachine(unit, '/etc/cron.d/turku-agent'), 'utf8')).toContain(
        '/usr/local/bin/turku-agent-ping --config-dir /etc/turku-agent --wait=300',
      );
    }
    const machines = await listMachines(api.api.api.ctx);
    expect(machines.map((m) => [m.unit_name, m.service_name, m.environment_name]).sort()).toEqual([
      ['web/0', 'web', sim.model.name],
      ['web/1', 'web', sim.model.name],
    ]);
    // Nothing on the agent's side of its relations (and never the credential).
    for (const relation of Object.values(sim.model.relations)) {
      expect(relation.appBags['turku-agent'] ?? {}).toEqual({});
      for (const unit of AGENTS) {
        const bag = relation.unitBags[unit] ?? {};
        expect(
          Object.keys(bag).filter((key) => !/^(private-address|ingress-address|egress-subnets)$/.test(key)),
        ).toEqual([]);
      }
    }
  });

  test('leader and non-leader units do the same (nothing is leader-only)', () => {
    const leader = sim.model.applications['turku-agent']!.leader;
    expect(AGENTS).toContain(leader);
    expect(sim.workloadStatuses()['turku-agent/0']).toBe(sim.workloadStatuses()['turku-agent/1']);
    expect(machineOf('turku-agent/0')).not.toBe(machineOf('turku-agent/1'));
  });

  test("the principal's sources reach sources.d and the API", async () => {
    await sim.integrate('turku-agent:backup-sources', 'web:backup-sources');
    await sim.settle();
    for (const unit of AGENTS) {
      expect(sim.workloadStatuses()[unit]).toBe(`active: 2 sources registered with ${apiHostPort}; no backup yet`);
      expect(JSON.parse(await readFile(onMachine(unit, '/etc/turku-agent/sources.d/web.json'), 'utf8'))).toEqual(
        WEB_SOURCES,
      );
    }
    const sources = await listSources(api.api.api.ctx);
    expect(sources.map((s) => `${s.unit_name} ${s.name} ${s.path}`).sort()).toEqual([
      'web/0 etc /etc',
      'web/0 www /srv/www',
      'web/1 etc /etc',
      'web/1 www /srv/www',
    ]);
  });

  test('bad sources from a principal: blocked naming it, no file for it, other machines unaffected', async () => {
    await sim.deploy('db', inProcess(PRINCIPAL_META, principal), {
      config: { sources: JSON.stringify({ dumps: { path: '/var/backups/db', frequency: '2am' } }) },
    });
    await sim.integrate('turku-agent:juju-info', 'db:juju-info');
    await sim.integrate('turku-agent:backup-sources', 'db:backup-sources');
    await sim.settle();
    const dbAgent = Object.values(sim.model.units).find((u) => u.principal === 'db/0')!.name;
    expect(sim.workloadStatuses()[dbAgent]).toMatch(
      /^blocked: bad sources from db: sources: source "dumps": frequency: /,
    );
    expect(existsSync(onMachine(dbAgent, '/etc/turku-agent/sources.d/db.json'))).toBe(false);
    // Still registered (with no sources), and the web machines go on.
    expect((await listMachines(api.api.api.ctx)).map((m) => m.unit_name).sort()).toEqual(['db/0', 'web/0', 'web/1']);
    for (const unit of AGENTS)
      expect(sim.workloadStatuses()[unit]).toBe(`active: 2 sources registered with ${apiHostPort}; no backup yet`);

    // Fixed by the principal: the file appears and the API gets the source.
    await sim.config('db', {
      sources: JSON.stringify({ dumps: { path: '/var/backups/db', frequency: 'daily, 0200-0600' } }),
    });
    await sim.settle();
    expect(sim.workloadStatuses()[dbAgent]).toBe(`active: 1 source registered with ${apiHostPort}; no backup yet`);
    expect(existsSync(onMachine(dbAgent, '/etc/turku-agent/sources.d/db.json'))).toBe(true);
  });

  test('actions: list-sources, restore and restore-session against a storage', async () => {
    const unit = 'turku-agent/0';
    // An operator's own sources file and a test-only config file: ssh is a fake storage.
    const record = join(await tempDir(), 'ssh');
    await writeFile(
      onMachine(unit, '/etc/turku-agent/sources.d/local.json'),
      JSON.stringify({ home: { path: '/home' } }),
    );
    const restoring = `
      if (require('node:fs').existsSync(require('node:path').dirname(counter) + '/refuse')) {
        process.stderr.write('ssh: connect to host primary.example.com port 22: Connection refused\\n');
        process.exit(255);
      }
      if (request.query !== undefined) {
        // Our storage's answer to a query (lib/storage/queries/answer.ts), in JSON lines.
        await waitForEof();
        const line = (value) => process.stdout.write(JSON.stringify(value) + '\\n');
        line({ type: 'answer', version: 1, kind: request.query.kind, source: request.query.source });
        if (request.query.source !== 'etc') {
          line({ type: 'error', message: 'no snapshots of source "' + request.query.source + '" on this storage' });
          process.exit(1);
        }
        line({ type: 'snapshot', name: 'etc_20261130-064000_1a2b', mode: 'link-dest', time: '2026-11-30T06:40:00.000Z', size: 9, files: 1 });
        line({ type: 'end', shown: 1, more: 0, complete: true });
        process.exit(0);
      }
      if (request.restore === undefined) {
        log('INFO', 'Restore mode active on port ' + port + '.  Good luck.');
        await waitForEof();
        process.exit(0);
      }
      await waitForEof();
      const { restore } = request;
      if (restore.source !== 'etc') {
        log('ERROR', 'Scripted restore failed: No backups of source "' + restore.source + '" on this storage');
        process.exit(1);
      }
      const snapshot = require('node:path').dirname(counter) + '/snapshot/';
      require('node:fs').mkdirSync(snapshot, { recursive: true });
      require('node:fs').writeFileSync(snapshot + 'hosts', 'restored\\n');
      const result = rsync(['-a', snapshot, 'rsync://' + restore.username + '@127.0.0.1:' + port + '/' + restore.module + '/'], restore.password);
      if (result.status !== 0) { log('ERROR', 'rsync failed: ' + result.stderr.trim()); process.exit(1); }
      if (restore.as_of !== undefined) {
        // Our storage's reports (docs/datapath.md, "Restore progress").
        const say = (kind, body) => process.stdout.write('turku-restore-' + kind + ' ' + JSON.stringify({ version: 1, ...body }) + '\\n');
        say('progress', { bytes: 9, files: 1, total_bytes: 9, total_files: 1, seconds: 0.5 });
        say('done', { source: 'etc', snapshot: 'etc_20241215-064000_ab12', time: '2024-12-15T06:40:00.000Z', path: restore.path ?? null, bytes: 9, files: 1, seconds: 0.5 });
      }
      log('INFO', 'Scripted restore finished: etc snapshot etc-2024-12-15T06:40:00');
      process.exit(0);
    `;
    const ssh = await nodeScript(join(record, '..'), 'fake-ssh', fakeStorageScript(record, restoring));
    await writeFile(onMachine(unit, '/etc/turku-agent/config.d/90-test.json'), JSON.stringify({ ssh_command: [ssh] }));
    // The agent's record of one check-in session (lib/agent/ping.ts writes it; tested there).
    const recorded = { time: '2026-11-30T06:40:00.000Z', storage: 'primary', ok: true, outcome: 'ok' };
    await writeFile(
      onMachine(unit, '/var/lib/turku-agent/last-backups.json'),
      JSON.stringify({ sources: { etc: { last_session: recorded, last_success: recorded.time } } }),
    );
    await sim.updateStatus();
    await sim.settle();
    expect(sim.workloadStatuses()[unit]).toBe(
      `active: 3 sources registered with ${apiHostPort}; last backup 2026-11-30 06:40 UTC`,
    );

    const listed = await sim.runAction(unit, 'list-sources');
    expect(listed.status).toBe('completed');
    expect(listed.results['count']).toBe('3');
    const none = { 'last-backup': null, 'last-session': null };
    expect(JSON.parse(String(listed.results['sources']))).toEqual({
      etc: { ...WEB_SOURCES.etc, 'last-backup': recorded.time, 'last-session': recorded },
      www: { ...WEB_SOURCES.www, ...none },
      home: { path: '/home', ...none },
    });

    const restored = await sim.runAction(unit, 'restore', { source: 'etc', target: '/srv/restored' });
    expect(restored.message).toBe('');
    expect(restored.status).toBe('completed');
    expect(restored.results).toMatchObject({
      source: 'etc',
      snapshot: 'latest',
      target: '/srv/restored',
      output: `Restored etc (latest) from primary into ${onMachine(unit, '/srv/restored')}`,
    });
    expect(await readFile(onMachine(unit, '/srv/restored/hosts'), 'utf8')).toBe('restored\n');
    // Again into the same, now non-empty, target: refused unless merge is asked for.
    const again = await sim.runAction(unit, 'restore', { source: 'etc', target: '/srv/restored' });
    expect(again.status).toBe('failed');
    expect(again.message).toBe(
      `restore of etc failed: Restore target ${onMachine(unit, '/srv/restored')} is not empty; ` +
        'empty it, choose another, or merge into it (--restore-merge)',
    );
    const merged = await sim.runAction(unit, 'restore', { source: 'etc', target: '/srv/restored', merge: true });
    expect(merged.status).toBe('completed');
    // verify=true against a storage that sends no manifest: restored, but the action fails and says why.
    const unverified = await sim.runAction(unit, 'restore', { source: 'etc', target: '/srv/unverified', verify: true });
    const noManifest =
      'this storage sent no manifest (an original Turku storage, or a snapshot recorded before manifests, or borg mode)';
    expect(unverified.status).toBe('failed');
    expect(unverified.message).toBe(`restore of etc failed: Restored, but not verified: ${noManifest}`);
    expect(unverified.results).toMatchObject({ verify: `Not verified: ${noManifest}` });
    expect(await readFile(onMachine(unit, '/srv/unverified/hosts'), 'utf8')).toBe('restored\n');

    // As of a moment, one part: the results name the snapshot chosen, its time and the totals;
    // the agent's progress line goes to action-log.
    const asOf = await sim.runAction(unit, 'restore', {
      source: 'etc',
      'as-of': '2024-12-15T07:00:00Z',
      path: 'hosts',
      target: '/srv/as-of',
    });
    expect(asOf.status).toBe('completed');
    expect(asOf.results).toMatchObject({
      source: 'etc',
      snapshot: 'etc_20241215-064000_ab12',
      'snapshot-time': expect.stringMatching(/^2024-12-15T\d\d:\d\d:00[+-]\d\d:\d\d$/),
      path: 'hosts',
      files: '1',
      bytes: '9',
      seconds: '0.5',
    });
    expect(asOf.log).toContain('Restoring: 9 B of 9 B (100%), 1 of 1 files, 18 B/s, 0:00:00 left');
    const both = await sim.runAction(unit, 'restore', { source: 'etc', snapshot: 'x', 'as-of': '2024-12-15' });
    expect(both.status).toBe('failed');
    expect(both.message).toBe('give snapshot or as-of, not both');

    const unknown = await sim.runAction(unit, 'restore', { source: 'nope', snapshot: 'nope-2024' });
    expect(unknown.status).toBe('failed');
    expect(unknown.message).toBe(
      'restore of nope failed: Restoring nope from primary failed: No backups of source "nope" on this storage',
    );

    const snapshots = await sim.runAction(unit, 'list-snapshots', { source: 'etc' });
    expect(snapshots.status).toBe('completed');
    expect(snapshots.results).toMatchObject({
      source: 'etc',
      count: '1',
      more: '0',
      complete: 'true',
      storage: 'primary',
    });
    expect(JSON.parse(String(snapshots.results['snapshots']))).toEqual([
      { name: 'etc_20261130-064000_1a2b', mode: 'link-dest', time: '2026-11-30T06:40:00.000Z', size: 9, files: 1 },
    ]);
    const noSnapshots = await sim.runAction(unit, 'find', { source: 'nope', pattern: '*.conf' });
    expect(noSnapshots.status).toBe('failed');
    expect(noSnapshots.message).toBe(
      'find of nope failed: Storage primary: no snapshots of source "nope" on this storage',
    );

    const session = await sim.runAction(unit, 'restore-session', { timeout: 120 });
    expect(session.message).toBe('');
    expect(session.status).toBe('completed');
    expect(String(session.results['command'])).toMatch(
      /^RSYNC_PASSWORD=\w+ rsync -avzP --numeric-ids \$\{P\?\}\/ rsync:\/\/[\w-]+@127\.0\.0\.1:\d+\/turku-restore\/$/,
    );
    expect(session.results).toMatchObject({
      storage: 'primary',
      target: onMachine(unit, '/var/backups/turku-agent/restore'),
    });
    // Still open after the action: a second session cannot start meanwhile.
    const second = await sim.runAction(unit, 'restore-session', { timeout: 60 });
    expect(second.status).toBe('failed');
    expect(second.message).toBe(
      `a restore session is already open (pid ${String(session.results['pid'])}); it ends at its timeout`,
    );
    // The storage refuses the next session: the action fails with the agent's reason.
    process.kill(-Number(session.results['pid']), 'SIGTERM');
    await waitFor(() => !isProcessAlive(Number(session.results['pid'])));
    await writeFile(join(record, '..', 'refuse'), '');
    const refused = await sim.runAction(unit, 'restore-session', {});
    expect(refused.status).toBe('failed');
    expect(refused.message).toBe(
      'restore session failed: Cannot connect to storage primary at primary.example.com:22 with ssh: ' +
        'ssh: connect to host primary.example.com port 22: Connection refused',
    );
  });

  test('a removed relation takes its sources file, never an operator-dropped one', async () => {
    await sim.removeRelation('turku-agent:backup-sources', 'web:backup-sources');
    await sim.settle();
    for (const unit of AGENTS) expect(existsSync(onMachine(unit, '/etc/turku-agent/sources.d/web.json'))).toBe(false);
    expect(existsSync(onMachine('turku-agent/0', '/etc/turku-agent/sources.d/local.json'))).toBe(true);
    expect(sim.workloadStatuses()['turku-agent/0']).toBe(
      `active: 1 source registered with ${apiHostPort}; no backup yet`,
    );
    expect(sim.workloadStatuses()['turku-agent/1']).toBe(
      `active: 0 sources registered with ${apiHostPort}; no backup yet`,
    );
    // The API hears of it: the machines' remaining published sources.
    const sources = await listSources(api.api.api.ctx);
    expect(sources.filter((s) => s.unit_name === 'web/1' && s.published).map((s) => s.name)).toEqual([]);
    expect(sources.filter((s) => s.unit_name === 'web/0' && s.published).map((s) => s.name)).toEqual(['home']);
  });

  test('removing the agent removes its timers', async () => {
    await sim.removeRelation('turku-agent:backup-sources', 'db:backup-sources');
    await sim.removeRelation('turku-agent:juju-info', 'db:juju-info');
    await sim.settle();
    const gone = Object.values(sim.removedUnits).find((u) => u.principal === 'db/0');
    expect(gone).toBeDefined();
    expect(existsSync(roots.path(gone!.machine, '/etc/cron.d/turku-agent'))).toBe(false);
    expect(existsSync(roots.path(gone!.machine, '/etc/turku-agent/config.d/50-juju.json'))).toBe(true);
  });
});
