import { defineCharm, runCharm } from '../charm/index.js';
import { charmMeta } from '../charm-testing/fixtures.js';
import { Context, events, type RelationState } from '../charm-testing/scenario.js';
import { DatabagError } from '../charm/errors.js';
import { valueOf } from './fields.js';
import {
  AGENT_API_SECRET_LABEL,
  agentApiSecretContent,
  readAgentApi,
  readAgentApiSecret,
  writeAgentApi,
} from './turku-agent-api.js';
import { storageApiSecretContent } from './turku-storage-api.js';

const SECRET_ID = 'secret:cu9k0hlrfhps7f0t6mq0';
const APP_BAG = { 'api-url': 'https://turku.example.com/v1', 'secret-id': SECRET_ID };
const JUJU_ADDRESS_KEYS = {
  'private-address': '10.1.2.3',
  'ingress-address': '10.1.2.3',
  'egress-subnets': '10.1.2.3/32',
};
const CREDENTIAL = { name: 'juju agents:3', secret: 'j7FAc9QeWJKY40uvSwMFLZDe1f8rES' };

describe('application bag', () => {
  test('round-trips through the strings relation-set takes', () => {
    const bag = writeAgentApi(APP_BAG);
    expect(bag).toEqual(APP_BAG);
    expect(readAgentApi(bag)).toEqual({ ok: true, value: APP_BAG });
  });

  test("Juju's address keys and unknown keys are ignored", () => {
    expect(readAgentApi({ ...APP_BAG, ...JUJU_ADDRESS_KEYS, 'added-later': 'x' })).toEqual({
      ok: true,
      value: APP_BAG,
    });
  });

  test('a missing key is named', () => {
    expect(readAgentApi({ 'api-url': APP_BAG['api-url'] })).toEqual({ ok: false, problems: ['secret-id: required'] });
    expect(readAgentApi({})).toEqual({ ok: false, problems: ['api-url: required', 'secret-id: required'] });
  });

  test('bad values are named with their key', () => {
    const result = readAgentApi({ 'api-url': 'turku.example.com', 'secret-id': 'j7FAc9QeWJKY40uvSwMF' });
    expect(result).toEqual({
      ok: false,
      problems: ['api-url: expected an http(s) URL without query', 'secret-id: expected a secret URI (secret:<id>)'],
    });
  });

  test('the writer refuses what the reader would refuse', () => {
    expect(() => writeAgentApi({ ...APP_BAG, 'api-url': 'ftp://x' })).toThrow(
      new DatabagError('cannot encode relation data: api-url: expected an http(s) URL without query'),
    );
  });

  test('a cross-model secret URI is accepted', () => {
    const id = 'secret://0f4c6f59-0d5b-4b7e-9c4e-1a2b3c4d5e6f/cu9k0hlrfhps7f0t6mq0';
    expect(readAgentApi({ ...APP_BAG, 'secret-id': id }).ok).toBe(true);
  });
});

describe('secret content', () => {
  test('round-trips, with keys Juju accepts for secret content', () => {
    const content = agentApiSecretContent(CREDENTIAL);
    expect(content).toEqual({
      'auth-name': CREDENTIAL.name,
      'auth-secret': CREDENTIAL.secret,
      'auth-type': 'machine_reg',
    });
    for (const key of Object.keys(content)) expect(key).toMatch(/^[a-z](?:-?[a-z0-9])+$/);
    expect(valueOf(readAgentApiSecret(content))).toEqual(content);
  });

  test('a storage credential is refused by the agent side', () => {
    expect(readAgentApiSecret(storageApiSecretContent(CREDENTIAL))).toEqual({
      ok: false,
      problems: ['auth-type: expected "machine_reg", got "storage_reg"'],
    });
  });

  test('missing and short values are named', () => {
    expect(readAgentApiSecret({ 'auth-name': 'x', 'auth-secret': 'short', 'auth-type': 'machine_reg' })).toEqual({
      ok: false,
      problems: ['auth-secret: must be at least 20 characters'],
    });
    expect(() => agentApiSecretContent({ name: '', secret: CREDENTIAL.secret })).toThrow(/auth-name/);
  });
});

// The pattern of docs/charm-runtime.md, "Secrets" through the Juju fake: the API leader adds the
// secret, grants it to the remote application on the relation and publishes its id, all in one
// hook; the agent reads the id, then the secret. A non-leader cannot write the application bag, and
// its failed hook leaves nothing behind.
describe('through the Juju fake', () => {
  const apiMeta = charmMeta('turku-api', {
    endpoints: { agents: { role: 'provides', interface: 'turku-agent-api', scope: 'global' } },
  });
  const agentMeta = charmMeta('turku-agent', {
    subordinate: true,
    endpoints: {
      'juju-info': { role: 'requires', interface: 'juju-info', scope: 'container' },
      'turku-api': { role: 'requires', interface: 'turku-agent-api', scope: 'global', limit: 1 },
    },
  });

  const apiCharm = defineCharm({
    async reconcile(ctx) {
      for (const relation of await ctx.tools.relationIds('agents')) {
        const id = await ctx.tools.secretAdd(agentApiSecretContent(CREDENTIAL), {
          label: `agents-registration-${relation.split(':')[1]}`,
        });
        await ctx.tools.secretGrant(id, relation);
        await ctx.tools.relationSet(
          relation,
          writeAgentApi({ 'api-url': 'https://turku.example.com/v1', 'secret-id': id }),
          { app: true },
        );
      }
    },
  });
  const apiContext = new Context({
    meta: apiMeta,
    executor: { kind: 'in-process', run: (io) => runCharm(apiCharm, io) },
  });
  const agentsRelation: RelationState = {
    id: 3,
    endpoint: 'agents',
    remoteApp: 'turku-agent',
    remoteEndpoint: 'turku-api',
    remoteUnits: { 'turku-agent/0': {}, 'turku-agent/1': {} },
  };

  test('the leader grants the secret to the remote application and publishes its id', async () => {
    const out = await apiContext.run(events.relationJoined(agentsRelation, 'turku-agent/0'), {
      leader: true,
      relations: [agentsRelation],
    });
    expect(out.failed).toBe(false);
    const [secret] = out.state.secrets ?? [];
    expect(secret?.grants).toEqual([{ relationId: 3, app: 'turku-agent' }]);
    expect(secret?.revisions.at(-1)?.content).toEqual(agentApiSecretContent(CREDENTIAL));
    const appBag = readAgentApi(out.state.relations?.[0]?.localAppData ?? {});
    expect(appBag).toEqual({
      ok: true,
      value: { 'api-url': 'https://turku.example.com/v1', 'secret-id': `secret:${secret?.id}` },
    });
  });

  test('a non-leader cannot write the application bag: the hook fails and nothing is committed', async () => {
    const out = await apiContext.run(events.relationJoined(agentsRelation, 'turku-agent/0'), {
      leader: false,
      relations: [agentsRelation],
    });
    expect(out.failed).toBe(true);
    expect(out.exitCode).toBe(1);
    expect(out.state.secrets ?? []).toEqual([]);
    expect(out.state.relations?.[0]?.localAppData ?? {}).toEqual({});
  });

  test('a non-leader that skips secret-add is still refused on relation-set --app', async () => {
    const writeOnly = defineCharm({
      async reconcile(ctx) {
        await ctx.tools.relationSet('agents:3', writeAgentApi(APP_BAG), { app: true });
      },
    });
    const context = new Context({
      meta: apiMeta,
      executor: { kind: 'in-process', run: (io) => runCharm(writeOnly, io) },
    });
    const out = await context.run(events.relationChanged(agentsRelation, 'turku-agent/0'), {
      leader: false,
      relations: [agentsRelation],
    });
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain('ERROR cannot write relation settings');
    expect(out.state.relations?.[0]?.localAppData ?? {}).toEqual({});
  });

  test('the agent reads the id from the API application bag, then the granted secret', async () => {
    let seen: unknown;
    const agentCharm = defineCharm({
      async reconcile(ctx) {
        const [relation] = await ctx.tools.relationIds('turku-api');
        if (relation === undefined) return;
        const app = readAgentApi(
          await ctx.tools.relationGet(relation, await ctx.tools.relationRemoteApp(relation), { app: true }),
        );
        if (!app.ok) {
          ctx.status.waiting(`waiting for turku-api: ${app.problems.join('; ')}`);
          return;
        }
        const content = await ctx.tools.secretGet({ id: app.value['secret-id'], label: AGENT_API_SECRET_LABEL });
        seen = { url: app.value['api-url'], credential: valueOf(readAgentApiSecret(content)) };
      },
    });
    const context = new Context({
      meta: agentMeta,
      executor: { kind: 'in-process', run: (io) => runCharm(agentCharm, io) },
    });
    const relation: RelationState = {
      id: 3,
      endpoint: 'turku-api',
      remoteApp: 'turku-api',
      remoteEndpoint: 'agents',
      remoteUnits: { 'turku-api/0': {} },
      remoteAppData: { ...APP_BAG },
    };
    const principal: RelationState = {
      id: 1,
      endpoint: 'juju-info',
      remoteApp: 'postgresql',
      remoteUnits: { 'postgresql/0': {} },
    };
    const out = await context.run(events.relationChanged(relation), {
      relations: [principal, relation],
      secrets: [
        {
          id: SECRET_ID.slice('secret:'.length),
          owner: { app: 'turku-api' },
          revisions: [{ revision: 1, content: agentApiSecretContent(CREDENTIAL) }],
        },
      ],
    });
    expect(out.failed).toBe(false);
    expect(seen).toEqual({
      url: 'https://turku.example.com/v1',
      credential: { 'auth-name': CREDENTIAL.name, 'auth-secret': CREDENTIAL.secret, 'auth-type': 'machine_reg' },
    });
    expect(out.state.secrets?.[0]).toMatchObject({ tracked: 1, consumerLabel: AGENT_API_SECRET_LABEL });
  });

  test('without the grant the agent cannot read the secret', async () => {
    const agentCharm = defineCharm({
      async reconcile(ctx) {
        await ctx.tools.secretGet({ id: SECRET_ID });
      },
    });
    const context = new Context({
      meta: agentMeta,
      executor: { kind: 'in-process', run: (io) => runCharm(agentCharm, io) },
    });
    const out = await context.run(events.updateStatus(), {
      relations: [{ id: 1, endpoint: 'juju-info', remoteApp: 'postgresql', remoteUnits: { 'postgresql/0': {} } }],
      secrets: [
        {
          id: SECRET_ID.slice('secret:'.length),
          owner: { app: 'turku-api' },
          revisions: [{ revision: 1, content: agentApiSecretContent(CREDENTIAL) }],
          grants: [],
        },
      ],
    });
    expect(out.exitCode).toBe(1);
    expect(out.stderr).toContain('ERROR permission denied');
  });
});
