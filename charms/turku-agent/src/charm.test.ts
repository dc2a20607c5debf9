// The turku-agent charm one unit at a time (scenario Context, in-process) with the real agent
// programs against a real turku-api (SQLite), plus its pure modules and its declarations.
import { afterAll, afterEach, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { load as loadYaml } from 'js-yaml';

import { checkActionsDeclaration, checkConfigDeclaration } from '../../../lib/charm/declarations.js';
import { runCharm } from '../../../lib/charm/index.js';
import { agentApiSecretContent } from '../../../lib/charm-interfaces/index.js';
import { parseCharmMeta } from '../../../lib/charm-pack/charm-meta.js';
import { Context, type RelationState, type SecretState, events } from '../../../lib/charm-testing/scenario.js';
import { createAuth, listMachines } from '../../../lib/api/admin/commands.js';
import { apiWithStorage, type ApiWithStorage } from '../../../lib/agent/__tests__/helpers.js';
import { registerStorage } from '../../../tests/support/api-harness.js';
import { startTestApi } from '../../../tests/support/api-harness.js';
import { MachineRoots } from '../../../tests/support/machines.js';
import { freePort } from '../../../tests/support/processes.js';
import { agentError, sessionInfo } from './actions.js';
import { apiFromConfig } from './api-source.js';
import { turkuAgentCharm } from './charm.js';
import { configSchema } from './schemas.js';
import { apiHost, jujuConfig, principalOf } from './config-files.js';
import { lastBackupText, sourceBackup, utcMinute } from './last-backup.js';
import { parseWritten, planSources } from './sources.js';

jest.setTimeout(60_000);

const CHARMCRAFT = fileURLToPath(new URL('../charmcraft.yaml', import.meta.url));
const SECRET_ID = 'cu9k0hlrfhps7f0t6mq0';

let api: ApiWithStorage;
let charmcraft: string;
let roots: MachineRoots;

beforeAll(async () => {
  api = await apiWithStorage();
  charmcraft = await readFile(CHARMCRAFT, 'utf8');
});
afterAll(async () => {
  await api?.api.close();
});
afterEach(async () => {
  await roots?.cleanup();
});

/** A Context on a fresh machine root (the unit is on machine 0). */
async function context(): Promise<Context> {
  roots = await new MachineRoots().init();
  const definition = turkuAgentCharm(roots.hostFor);
  return new Context({
    meta: parseCharmMeta(charmcraft),
    executor: { kind: 'in-process', run: (io) => runCharm(definition, io) },
  });
}
const onMachine = (path: string) => roots.path('0', path);

const JUJU_INFO: RelationState = { endpoint: 'juju-info', remoteApp: 'web', remoteUnits: { 'web/0': {} } };
const sourcesRelation = (app: string, sources: unknown): RelationState => ({
  endpoint: 'backup-sources',
  remoteApp: app,
  remoteUnits: { [`${app}/0`]: { sources: JSON.stringify(sources) } },
});
const apiRelation = (data: Record<string, string>): RelationState => ({
  endpoint: 'turku-api',
  remoteApp: 'turku-api',
  remoteEndpoint: 'agents',
  remoteAppData: data,
});
const registrationSecret = (secret = api.machineAuth.secret): SecretState => ({
  id: SECRET_ID,
  owner: { app: 'turku-api' },
  revisions: [{ revision: 1, content: agentApiSecretContent({ name: api.machineAuth.name, secret }) }],
});
const apiConfig = () => ({
  'api-url': api.api.url,
  'registration-name': api.machineAuth.name,
  'registration-secret': api.machineAuth.secret,
});

describe('declarations', () => {
  test('charmcraft.yaml declares exactly the config and actions the zod schemas accept', () => {
    const declared = loadYaml(charmcraft) as {
      config: { options: Record<string, never> };
      actions: Record<string, never>;
    };
    const definition = turkuAgentCharm(() => {
      throw new Error('not used');
    });
    expect(checkConfigDeclaration(configSchema, declared.config.options)).toEqual([]);
    expect(checkActionsDeclaration(definition.actions ?? {}, declared.actions)).toEqual([]);
  });
});

describe('pure parts', () => {
  test('API from config names the missing keys', () => {
    const empty = { 'api-url': '', 'registration-name': '', 'registration-secret': '', 'environment-name': '' };
    expect(apiFromConfig(empty)).toEqual({
      kind: 'blocked',
      message: 'needs the turku-api relation or the api-url, registration-name and registration-secret config',
    });
    const partial = apiFromConfig({ ...empty, 'registration-name': 'n' });
    expect(partial.kind === 'blocked' && partial.message).toMatch(/\(missing: api-url, registration-secret\)$/);
    expect(
      apiFromConfig({ ...empty, 'api-url': 'https://a/v1', 'registration-name': 'n', 'registration-secret': 's' }),
    ).toEqual({
      kind: 'ready',
      access: { url: 'https://a/v1', authName: 'n', authSecret: 's', from: 'config' },
    });
  });

  test('principal, config object, API host', () => {
    expect(principalOf('postgresql/3')).toEqual({ unit: 'postgresql/3', app: 'postgresql' });
    expect(principalOf('')).toBeUndefined();
    expect(principalOf(undefined)).toBeUndefined();
    expect(apiHost('https://turku.example.com:8443/v1')).toBe('turku.example.com:8443');
    expect(
      jujuConfig({
        api: { url: 'https://t/v1', authName: 'n', authSecret: 's', from: 'relation' },
        principal: { unit: 'pg/1', app: 'pg' },
        environmentName: 'prod',
        paths: { varDir: '/v', lockDir: '/l', restorePath: '/r' },
      }),
    ).toEqual({
      api_url: 'https://t/v1',
      api_auth_name: 'n',
      api_auth_secret: 's',
      environment_name: 'prod',
      service_name: 'pg',
      unit_name: 'pg/1',
      var_dir: '/v',
      lock_dir: '/l',
      restore_path: '/r',
    });
  });

  test('sources plan: write good, keep the last file of a bad principal, remove only what the charm wrote', () => {
    const plan = planSources(
      [
        { app: 'web', kind: 'file', text: '{}\n', dropped: [] },
        { app: 'db', kind: 'bad', problems: ['sources: expected JSON text'] },
        { app: 'new-bad', kind: 'bad', problems: ['x'] },
        { app: 'quiet', kind: 'none' },
      ],
      ['db', 'quiet', 'gone'],
    );
    expect([...plan.write.keys()]).toEqual(['web']);
    expect(plan.remove).toEqual(['quiet', 'gone']);
    expect(plan.written).toEqual(['db', 'web']);
    expect(parseWritten('["a",1]')).toEqual(['a']);
    expect(parseWritten('{')).toEqual([]);
    expect(parseWritten(undefined)).toEqual([]);
  });

  test('the session block and the agent’s error line', () => {
    const output =
      'Entering restore mode.\n\nMachine UUID: u-1\nMachine unit: web/0\nStorage unit: primary\n' +
      'Local destination path: /r\nSample restore usage from storage unit:\n    cd /var/lib/turku-storage/machines/u-1/\n' +
      '    RSYNC_PASSWORD=abc rsync -avzP --numeric-ids ${P?}/ rsync://x@127.0.0.1:5/turku-restore/\n';
    expect(sessionInfo(output)).toEqual({
      command: 'RSYNC_PASSWORD=abc rsync -avzP --numeric-ids ${P?}/ rsync://x@127.0.0.1:5/turku-restore/',
      cd: 'cd /var/lib/turku-storage/machines/u-1/',
      'machine-uuid': 'u-1',
      storage: 'primary',
      target: '/r',
    });
    expect(sessionInfo('Entering restore mode.\n')).toBeUndefined();
    expect(agentError('[x] INFO: hi\nturku-agent-ping: Cannot find any appropriate sources.\n')).toBe(
      'Cannot find any appropriate sources.',
    );
    expect(agentError('ssh: oops\n')).toBe('ssh: oops');
  });
});

/** What lib/agent/ping.ts records in `<var_dir>/last-backups.json` (written here directly). */
const T_OLD = '2026-11-29T06:40:12.000Z';
const T_NEW = '2026-11-30T06:40:59.999Z';
const T_FAIL = '2026-11-30T07:10:00.000Z';
const T_GONE = '2026-12-01T00:00:00.000Z';
const RECORDS = {
  etc: { last_session: { time: T_NEW, storage: 'primary', ok: true, outcome: 'ok' }, last_success: T_NEW },
  www: {
    last_session: { time: T_FAIL, storage: 'primary', ok: false, outcome: 'failed', reason: 'rsync exited with …' },
    last_success: T_OLD,
  },
  // A source the machine no longer has: not part of the status.
  gone: { last_session: { time: T_GONE, storage: 'primary', ok: false, outcome: 'failed' }, last_success: T_GONE },
} as const;
const UNKNOWN = { time: T_FAIL, storage: 'primary', ok: false, outcome: 'unknown', reason: 'no result line' } as const;

describe('last backup', () => {
  test('the status names the newest success over the current sources', () => {
    expect(utcMinute(T_NEW)).toBe('2026-11-30 06:40 UTC');
    expect(lastBackupText(RECORDS, ['etc'])).toBe('last backup 2026-11-30 06:40 UTC');
    expect(lastBackupText(RECORDS, ['etc', 'www'])).toBe(
      'last backup 2026-11-30 06:40 UTC; last session failed for www',
    );
    expect(lastBackupText(RECORDS, ['www', 'new'])).toBe(
      'last backup 2026-11-29 06:40 UTC; last session failed for www',
    );
    expect(lastBackupText({ www: { ...RECORDS.www, last_success: null } }, ['www'])).toBe(
      'no backup yet; last session failed for www',
    );
    const many = Object.fromEntries(['a', 'b', 'c', 'd', 'e'].map((name) => [name, RECORDS.www]));
    expect(lastBackupText(many, ['e', 'd', 'c', 'b', 'a'])).toMatch(/; last session failed for a, b, c and 2 more$/);
    // An original storage does not say how a source went: the agent records unknown.
    expect(lastBackupText({ etc: { last_session: UNKNOWN, last_success: null } }, ['etc'])).toBe(
      'no backup yet; outcome of the last session unknown (the storage does not report it)',
    );
    expect(lastBackupText({ ...RECORDS, x: { last_session: UNKNOWN, last_success: null } }, ['etc', 'x'])).toBe(
      'last backup 2026-11-30 06:40 UTC; outcome of the last session unknown (the storage does not report it)',
    );
    expect(lastBackupText({}, ['etc'])).toBe('no backup yet');
    expect(lastBackupText(undefined, ['etc'])).toBe('last backup unknown');
  });

  test('list-sources fields per source', () => {
    expect(sourceBackup(RECORDS, 'www')).toEqual({
      'last-backup': T_OLD,
      'last-session': RECORDS.www.last_session,
    });
    expect(sourceBackup(RECORDS, 'new')).toEqual({ 'last-backup': null, 'last-session': null });
    expect(sourceBackup(undefined, 'etc')).toEqual({ 'last-backup': null, 'last-session': null });
  });
});

describe('one unit', () => {
  test('install without an API: programs installed, blocked naming what is missing', async () => {
    const ctx = await context();
    const out = await ctx.run(events.install(), { relations: [JUJU_INFO] });
    expect(out.failed).toBe(false);
    expect(out.state.unitStatus).toEqual({
      status: 'blocked',
      message: 'needs the turku-api relation or the api-url, registration-name and registration-secret config',
    });
    expect(existsSync(onMachine('/usr/local/bin/turku-agent-ping'))).toBe(true);
    expect(existsSync(onMachine('/etc/turku-agent/config.d/50-juju.json'))).toBe(false);
  });

  test('API from config; one bad principal is blocked by name while the good one registers', async () => {
    const ctx = await context();
    const out = await ctx.run(events.configChanged(), {
      config: { ...apiConfig(), 'environment-name': 'prod' },
      relations: [
        JUJU_INFO,
        sourcesRelation('web', { etc: { path: '/etc' } }),
        sourcesRelation('other', { tmp: { path: '/tmp', retention: 'forever and ever' } }),
        { endpoint: 'backup-sources', remoteApp: 'quiet', remoteUnits: { 'quiet/0': {} } },
      ],
    });
    expect(out.failed).toBe(false);
    expect(out.state.unitStatus?.status).toBe('blocked');
    expect(out.state.unitStatus?.message).toMatch(/^bad sources from other: sources: source "tmp": retention: /);
    expect(JSON.parse(await readFile(onMachine('/etc/turku-agent/sources.d/web.json'), 'utf8'))).toEqual({
      etc: { path: '/etc' },
    });
    expect(existsSync(onMachine('/etc/turku-agent/sources.d/other.json'))).toBe(false);
    expect(existsSync(onMachine('/etc/turku-agent/sources.d/quiet.json'))).toBe(false);
    expect(out.state.stored?.['sources-files']).toBe('["web"]');
    const config = JSON.parse(await readFile(onMachine('/etc/turku-agent/config.d/50-juju.json'), 'utf8')) as Record<
      string,
      string
    >;
    expect(config).toMatchObject({
      api_url: api.api.url,
      environment_name: 'prod',
      service_name: 'web',
      unit_name: 'web/0',
    });
    const machine = (await listMachines(api.api.api.ctx)).find((m) => m.environment_name === 'prod');
    expect(machine).toMatchObject({ unit_name: 'web/0', service_name: 'web', sources: 1 });
    // The agent wrote nothing on its relations.
    for (const relation of out.state.relations ?? []) {
      expect(relation.localAppData ?? {}).toEqual({});
      expect(Object.keys(relation.localUnitData ?? {}).sort()).toEqual([
        'egress-subnets',
        'ingress-address',
        'private-address',
      ]);
    }
  });

  test('the turku-api relation: waiting for data and for the grant, blocked on bad data', async () => {
    const ctx = await context();
    const waitingData = await ctx.run(events.relationChanged(apiRelation({})), {
      relations: [JUJU_INFO, apiRelation({})],
    });
    expect(waitingData.state.unitStatus).toEqual({
      status: 'waiting',
      message: 'waiting for turku-api to publish its URL and credential',
    });

    const published = apiRelation({ 'api-url': api.api.url, 'secret-id': `secret:${SECRET_ID}` });
    const notGranted = await ctx.run(events.relationChanged(published), {
      relations: [JUJU_INFO, published],
      secrets: [{ ...registrationSecret(), grants: [] }],
    });
    expect(notGranted.state.unitStatus).toEqual({
      status: 'waiting',
      message: "waiting for access to turku-api's registration secret",
    });

    const bad = apiRelation({ 'api-url': 'turku.example.com', 'secret-id': `secret:${SECRET_ID}` });
    const badOut = await ctx.run(events.relationChanged(bad), {
      relations: [JUJU_INFO, bad],
      secrets: [registrationSecret()],
    });
    expect(badOut.state.unitStatus?.status).toBe('blocked');
    expect(badOut.state.unitStatus?.message).toMatch(/^bad turku-api relation data from turku-api: api-url: /);
  });

  test('a rotated registration secret reaches config.d (0600) through secret-changed', async () => {
    const ctx = await context();
    const published = apiRelation({ 'api-url': api.api.url, 'secret-id': `secret:${SECRET_ID}` });
    const secret: SecretState = {
      ...registrationSecret(),
      revisions: [
        { revision: 1, content: agentApiSecretContent({ name: api.machineAuth.name, secret: 'x'.repeat(30) }) },
        { revision: 2, content: agentApiSecretContent({ name: api.machineAuth.name, secret: api.machineAuth.secret }) },
      ],
      tracked: 1,
      consumerLabel: 'turku-agent-api-registration',
    };
    const out = await ctx.run(events.secretChanged(secret), { relations: [JUJU_INFO, published], secrets: [secret] });
    expect(out.failed).toBe(false);
    const file = onMachine('/etc/turku-agent/config.d/50-juju.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ api_auth_secret: api.machineAuth.secret });
    expect(out.state.unitStatus?.message).toMatch(/^0 sources registered with 127\.0\.0\.1:\d+; no backup yet$/);
  });

  test('a refused registration fails the hook with the agent’s one line', async () => {
    const ctx = await context();
    const out = await ctx.run(events.configChanged(), {
      config: { ...apiConfig(), 'registration-secret': 'not-the-secret-at-all-000' },
      relations: [JUJU_INFO],
    });
    expect(out.failed).toBe(true);
    expect(out.stderr).toBe(
      'hook "config-changed" failed: Error: turku-update-config failed: ' +
        'API update_config refused: HTTP 403 Bad auth\n',
    );
  });

  test('an API with no storage yet is waited for, and the next hook registers once one is there', async () => {
    const bare = await startTestApi('sqlite');
    try {
      const auth = await createAuth(bare.api.ctx, 'machine_reg');
      const config = { 'api-url': bare.api.url, 'registration-name': auth.name, 'registration-secret': auth.secret };
      const ctx = await context();
      const out = await ctx.run(events.configChanged(), { config, relations: [JUJU_INFO] });
      expect(out.failed).toBe(false);
      expect(out.state.unitStatus).toEqual({
        status: 'waiting',
        message: 'the API has no storage for this machine yet',
      });
      expect(await listMachines(bare.api.ctx)).toEqual([]);

      await registerStorage(bare);
      const next = await ctx.run(events.updateStatus(), { ...out.state, config, relations: [JUJU_INFO] });
      expect(next.state.unitStatus?.status).toBe('active');
      expect((await listMachines(bare.api.ctx)).map((machine) => machine.unit_name)).toEqual(['web/0']);
    } finally {
      await bare.close();
    }
  });

  test('an API that does not answer yet is waited for, not a failed hook', async () => {
    // A port nothing listens on: a second turku-api unit still waiting for its database.
    const port = await freePort();
    const ctx = await context();
    const out = await ctx.run(events.configChanged(), {
      config: { ...apiConfig(), 'api-url': `http://127.0.0.1:${port}/v1` },
      relations: [JUJU_INFO],
    });
    expect(out.failed).toBe(false);
    expect(out.state.unitStatus?.status).toBe('waiting');
    expect(out.state.unitStatus?.message).toMatch(
      new RegExp(`^waiting for the API: Cannot reach the API at http://127\\.0\\.0\\.1:${port}/v1: `),
    );
  });

  // afterAgentRestart: Juju exports JUJU_REMOTE_APP='' then (docs/charm-runtime.md).
  test.each([false, true])(
    'a broken relation takes the file the charm wrote, never an operator’s (after an agent restart: %s)',
    async (afterAgentRestart) => {
      const ctx = await context();
      const dir = onMachine('/etc/turku-agent/sources.d');
      await mkdir(dir, { recursive: true });
      await writeFile(`${dir}/web.json`, '{"etc":{"path":"/etc"}}\n');
      await writeFile(`${dir}/mine.json`, '{"home":{"path":"/home"}}\n');
      const gone = sourcesRelation('web', { etc: { path: '/etc' } });
      const out = await ctx.run(events.relationBroken(gone, { afterAgentRestart }), {
        config: apiConfig(),
        relations: [JUJU_INFO, { ...gone, remoteUnits: {}, departed: { 'web/0': {} } }],
        stored: { 'sources-files': '["web"]' },
      });
      expect(out.failed).toBe(false);
      expect(existsSync(`${dir}/web.json`)).toBe(false);
      expect(existsSync(`${dir}/mine.json`)).toBe(true);
      expect(out.state.stored?.['sources-files']).toBe('[]');
      expect(out.state.unitStatus?.message).toMatch(/^1 source registered with /);
    },
  );

  test('the agent’s record of its sessions: status and list-sources', async () => {
    const ctx = await context();
    const state = {
      config: apiConfig(),
      relations: [JUJU_INFO, sourcesRelation('web', { etc: { path: '/etc' }, www: { path: '/srv/www' } })],
    };
    const first = await ctx.run(events.configChanged(), state);
    expect(first.state.unitStatus?.message).toMatch(/^2 sources registered with 127\.0\.0\.1:\d+; no backup yet$/);
    const listedBefore = await ctx.run(events.action('list-sources', {}), { ...first.state, ...state });
    expect(JSON.parse(String(listedBefore.actionResults?.['sources']))).toEqual({
      etc: { path: '/etc', 'last-backup': null, 'last-session': null },
      www: { path: '/srv/www', 'last-backup': null, 'last-session': null },
    });

    const file = onMachine('/var/lib/turku-agent/last-backups.json');
    await writeFile(file, JSON.stringify({ sources: RECORDS }));
    const recorded = await ctx.run(events.updateStatus(), { ...first.state, ...state });
    expect(recorded.state.unitStatus).toEqual({
      status: 'active',
      message: expect.stringMatching(
        /^2 sources registered with 127\.0\.0\.1:\d+; last backup 2026-11-30 06:40 UTC; last session failed for www$/,
      ),
    });
    const listed = await ctx.run(events.action('list-sources', {}), { ...recorded.state, ...state });
    expect(listed.actionStatus).toBe('completed');
    expect(listed.actionResults?.['count']).toBe('2');
    expect(JSON.parse(String(listed.actionResults?.['sources']))).toEqual({
      etc: { path: '/etc', 'last-backup': T_NEW, 'last-session': RECORDS.etc.last_session },
      www: { path: '/srv/www', 'last-backup': T_OLD, 'last-session': RECORDS.www.last_session },
    });

    // An unreadable record is unknown: the status says so, and the hook and the action still work.
    await writeFile(file, '{"sources": ');
    const damaged = await ctx.run(events.updateStatus(), { ...recorded.state, ...state });
    expect(damaged.failed).toBe(false);
    expect(damaged.state.unitStatus?.message).toMatch(/; last backup unknown$/);
    const listedDamaged = await ctx.run(events.action('list-sources', {}), { ...damaged.state, ...state });
    expect(JSON.parse(String(listedDamaged.actionResults?.['sources']))).toMatchObject({
      etc: { path: '/etc', 'last-backup': null, 'last-session': null },
    });
  });

  // action-set takes values in argv (no --file, no stdin) and Linux refuses one argument over
  // 128 KiB: a long listing is bounded inline and whole in a root-only file the result names.
  test('list-sources with more sources than action-set can carry: bounded result plus a 0600 file', async () => {
    const ctx = await context();
    const state = { config: apiConfig(), relations: [JUJU_INFO] };
    const first = await ctx.run(events.configChanged(), state);
    expect(first.failed).toBe(false);
    const many = Object.fromEntries(
      Array.from({ length: 3000 }, (_, i) => [
        `source-${String(i).padStart(4, '0')}`,
        { path: `/srv/data/${'d'.repeat(40)}/${i}` },
      ]),
    );
    await writeFile(onMachine('/etc/turku-agent/sources.d/90-many.json'), JSON.stringify(many));
    const listed = await ctx.run(events.action('list-sources', {}), { ...first.state, ...state });
    expect(listed.actionStatus).toBe('completed');
    const results = listed.actionResults as Record<string, string>;
    expect(results['count']).toBe('3000');
    expect(results['truncated']).toBe('true');
    const shown = JSON.parse(results['sources']!) as Record<string, unknown>;
    expect(Object.keys(shown).length).toBe(Number(results['shown']));
    expect(Object.keys(shown).length).toBeGreaterThan(0);
    expect(Buffer.byteLength(results['sources']!)).toBeLessThanOrEqual(32 * 1024);
    const file = results['full-output']!;
    expect(file).toBe(onMachine('/var/lib/turku-agent/charm/action-results/list-sources-1.json'));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const whole = JSON.parse(await readFile(file, 'utf8')) as Record<string, { path: string }>;
    expect(Object.keys(whole)).toHaveLength(3000);
    expect(whole['source-2999']).toMatchObject({ path: many['source-2999']!.path });
  });

  test('stop removes the timers', async () => {
    const ctx = await context();
    await ctx.run(events.configChanged(), { config: apiConfig(), relations: [JUJU_INFO] });
    expect(existsSync(onMachine('/etc/cron.d/turku-agent'))).toBe(true);
    const out = await ctx.run(events.stop(), { config: apiConfig(), relations: [JUJU_INFO] });
    expect(out.failed).toBe(false);
    expect(existsSync(onMachine('/etc/cron.d/turku-agent'))).toBe(false);
  });

  test('actions fail clearly while the agent is not configured', async () => {
    const ctx = await context();
    const expected =
      'the agent is not configured yet: relate it to turku-api, or set api-url, registration-name and registration-secret';
    for (const [name, params] of [
      ['list-sources', {}],
      ['restore', { source: 'etc' }],
      ['restore-session', {}],
      ['list-snapshots', { source: 'etc' }],
      ['list-files', { source: 'etc' }],
      ['find', { source: 'etc', pattern: '*.conf' }],
    ] as const) {
      const out = await ctx.run(events.action(name, params), { relations: [JUJU_INFO] });
      expect(out.actionStatus).toBe('failed');
      expect(out.actionMessage).toBe(expected);
    }
    const badTarget = await ctx.run(events.action('restore', { source: 'etc', target: 'relative' }), {
      relations: [JUJU_INFO],
    });
    expect(badTarget.actionMessage).toBe('invalid action parameters: target: must be an absolute path without ".."');
  });
});
