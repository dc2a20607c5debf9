import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { VIEWS, type View } from '../../lib/turku/protocol/api.js';

/**
 * A stand-in for the ORIGINAL Turku API (Python, Django), for contract tests of our agent and
 * storage programs: it answers the seven `/v1` views the way the original does, in the shapes
 * recorded from it (tests/fixtures/original-api/): exactly `application/json` on success with
 * the original's keys in its order and Python's JSON spacing, no top-level `scheduled_sources`
 * in a check-in, `{}` where the original answers `{}`, and refusals as `text/html; charset=utf-8`
 * bare messages (an HTML page for an unknown path, an empty 405). tests/unit/original-api-contract
 * .test.ts replays every recorded request against it, so it cannot drift from the recordings.
 *
 * Its state is just enough to drive real backups: registration credentials, storages, machines
 * and their sources, and backup logs. Simplifications, none visible in a reply's shape: secrets
 * are compared in plain text; a new or reported source next falls due a day later whatever its
 * frequency (tests force due times with `trigger`); there are no FilterSets, so `merge` lines are
 * dropped as the original drops a reference to a set it does not have.
 */

export interface StubAuth {
  readonly type: 'machine_reg' | 'storage_reg';
  readonly name: string;
  readonly secret: string;
}

export interface StubStorage {
  secret: string;
  ssh_ping_host: string;
  ssh_ping_port: number;
  ssh_ping_user: string;
  ssh_ping_host_keys: string[];
  space_total: number;
  space_available: number;
  comment: string | null;
  active: boolean;
  published: boolean;
}

export interface StubSource {
  path: string;
  frequency: string;
  retention: string;
  comment: string | null;
  bwlimit: string | null;
  snapshot_mode: string | null;
  preserve_hard_links: boolean;
  shared_service: boolean;
  large_rotating_files: boolean;
  large_modifying_files: boolean;
  filter: string[];
  exclude: string[];
  active: boolean;
  published: boolean;
  success: boolean;
  next_backup: Date;
  last_backed_up: Date | null;
}

export interface StubMachine {
  secret: string;
  environment_name: string | null;
  service_name: string | null;
  unit_name: string;
  comment: string | null;
  ssh_public_key: string;
  active: boolean;
  published: boolean;
  storage: string;
  sources: Map<string, StubSource>;
}

export interface StubBackupLog {
  readonly machine: string;
  readonly source: string;
  readonly storage: string;
  readonly success: boolean;
  readonly snapshot: string | null;
  readonly summary: string | null;
}

export interface OriginalApiStub {
  /** The `/v1` base, as agents and storages are configured with it. */
  readonly url: string;
  readonly storages: Map<string, StubStorage>;
  /** Keyed by canonical (lower-case, dashed) UUID. */
  readonly machines: Map<string, StubMachine>;
  readonly backupLogs: StubBackupLog[];
  /** Every request: its view (or path) and the status it got. */
  readonly requests: { readonly path: string; readonly status: number }[];
  /** The stub's idea of now; tests may move it. */
  now: () => Date;
  /** Makes a source due at the next check-in, as the original's admin "back up now" does. */
  trigger(uuid: string, source: string): void;
  close(): Promise<void>;
}

export interface OriginalApiStubOptions {
  /** Address to listen on (default 127.0.0.1); the port is chosen freely. */
  readonly host?: string;
  readonly auths: readonly StubAuth[];
}

type Body = Record<string, unknown>;

const DAY_MS = 86_400_000;

/** Django's page for a path no URL pattern matches (DEBUG off), as recorded. */
const NOT_FOUND_PAGE =
  '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n' +
  '  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n';
/** Django's page for an unhandled exception (DEBUG off), for inputs the original's views never expected (not recorded). */
const SERVER_ERROR_PAGE =
  '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Server Error (500)</title>\n</head>\n<body>\n  <h1>Server Error (500)</h1><p></p>\n</body>\n</html>\n';

/** A refusal the original's views raise: status and bare text. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const badAuth = () => new Refusal(403, 'Bad auth');

export async function startOriginalApiStub(options: OriginalApiStubOptions): Promise<OriginalApiStub> {
  const storages = new Map<string, StubStorage>();
  const machines = new Map<string, StubMachine>();
  const backupLogs: StubBackupLog[] = [];
  const requests: { path: string; status: number }[] = [];

  const stub = {
    storages,
    machines,
    backupLogs,
    requests,
    now: () => new Date(),
  };
  const now = () => stub.now();

  // ---- logins ---------------------------------------------------------------------------------

  function checkAuth(auth: unknown, type: StubAuth['type']): void {
    const candidates = options.auths.filter((candidate) => candidate.type === type);
    if (typeof auth === 'string' && candidates.some((candidate) => candidate.secret === auth)) return;
    if (isDict(auth) && candidates.some((c) => c.name === auth.name && c.secret === auth.secret)) return;
    throw badAuth();
  }

  function machineCredentials(body: Body): { uuid: string; secret: string } {
    const machine = body.machine;
    if (!isDict(machine)) throw new Refusal(400, '"machine" dict required');
    for (const key of ['uuid', 'secret']) {
      if (!(key in machine)) throw new Refusal(400, `Missing required machine option "${key}"`);
    }
    return { uuid: canonicalUuid(machine.uuid), secret: String(machine.secret) };
  }

  /** An agent's login: unknown, inactive, wrong secret and (but for update_config) unpublished all look alike. */
  function loginMachine(body: Body): StubMachine {
    const { uuid, secret } = machineCredentials(body);
    const machine = machines.get(uuid);
    if (machine === undefined || !machine.active || !machine.published || machine.secret !== secret) throw badAuth();
    return machine;
  }

  function loginStorage(body: Body): [string, StubStorage] {
    const request = body.storage;
    if (!isDict(request)) throw new Refusal(400, 'Missing required option "storage"');
    const name = request.name;
    const storage = typeof name === 'string' ? storages.get(name) : undefined;
    if (storage === undefined || !storage.active || storage.secret !== request.secret) throw badAuth();
    return [name as string, storage];
  }

  function machineOfStorage(body: Body, storageName: string): [string, StubMachine] {
    const request = body.machine;
    if (!isDict(request)) throw new Refusal(400, 'Missing required option "machine"');
    if (!('uuid' in request)) throw new Refusal(400, 'Missing required option "machine.uuid"');
    const uuid = canonicalUuid(request.uuid);
    const machine = machines.get(uuid);
    if (machine === undefined || machine.storage !== storageName || !machine.active || !machine.published) {
      throw new Refusal(404, 'Machine not found');
    }
    return [uuid, machine];
  }

  // ---- replies, keys in the original's order ----------------------------------------------------

  function describe(machine: StubMachine, source: StubSource): Body {
    const storage = storages.get(machine.storage)!;
    return {
      path: source.path,
      retention: source.retention,
      bwlimit: source.bwlimit,
      filter: expandFilters(source.filter),
      exclude: source.exclude,
      shared_service: source.shared_service,
      large_rotating_files: source.large_rotating_files,
      large_modifying_files: source.large_modifying_files,
      snapshot_mode: source.snapshot_mode,
      preserve_hard_links: source.preserve_hard_links,
      storage: {
        name: machine.storage,
        ssh_ping_host: storage.ssh_ping_host,
        ssh_ping_host_keys: storage.ssh_ping_host_keys,
        ssh_ping_port: storage.ssh_ping_port,
        ssh_ping_user: storage.ssh_ping_user,
      },
    };
  }

  function scheduled(machine: StubMachine): Body {
    const due: Body = {};
    for (const [name, source] of machine.sources) {
      if (source.active && source.published && source.next_backup <= now()) due[name] = describe(machine, source);
    }
    return due;
  }

  // ---- views ----------------------------------------------------------------------------------

  const views: Record<View, (body: Body) => unknown> = {
    update_config(body) {
      const { uuid, secret } = machineCredentials(body);
      const request = body.machine as Body;
      let machine = machines.get(uuid);
      if (machine !== undefined) {
        if (!machine.active || machine.secret !== secret) throw badAuth();
      } else {
        checkAuth(body.auth, 'machine_reg');
        if (!isOriginalValidUuid(uuid)) throw new Refusal(400, "Validation error: {'uuid': ['Invalid UUID format']}");
        for (const key of ['unit_name', 'ssh_public_key']) {
          if (typeof request[key] !== 'string' || request[key] === '') {
            throw new Refusal(400, `Validation error: {'${key}': ['This field cannot be blank.']}`);
          }
        }
        const storage = [...storages].find(([, candidate]) => candidate.active && candidate.published);
        if (storage === undefined) throw new Refusal(404, 'No storages are currently available');
        machine = {
          secret,
          environment_name: null,
          service_name: null,
          unit_name: '',
          comment: null,
          ssh_public_key: '',
          active: true,
          published: true,
          storage: storage[0],
          sources: new Map(),
        };
        machines.set(uuid, machine);
      }
      machine.published = 'published' in request ? Boolean(request.published) : true;
      for (const key of ['environment_name', 'service_name', 'unit_name', 'comment', 'ssh_public_key'] as const) {
        if (key in request) (machine as unknown as Body)[key] = request[key];
      }
      if (!('sources' in request)) return {};
      const sources = request.sources;
      if (!isDict(sources)) throw new Refusal(400, 'Invalid type for "sources"');
      for (const [name, source] of machine.sources) if (!(name in sources)) source.published = false;
      for (const [name, settings] of Object.entries(sources)) {
        if (!isDict(settings)) continue;
        let source = machine.sources.get(name);
        if (source === undefined) {
          source = {
            path: '',
            frequency: 'daily',
            retention: 'last 5 days, earliest of month',
            comment: null,
            bwlimit: null,
            snapshot_mode: null,
            preserve_hard_links: false,
            shared_service: false,
            large_rotating_files: false,
            large_modifying_files: false,
            filter: [],
            exclude: [],
            active: true,
            published: true,
            success: false,
            next_backup: new Date(now().getTime() + DAY_MS),
            last_backed_up: null,
          };
          machine.sources.set(name, source);
        }
        source.published = true;
        for (const key of ['path', 'frequency', 'retention', 'comment', 'bwlimit', 'snapshot_mode'] as const) {
          if (key in settings) (source as unknown as Body)[key] = asText(settings[key]);
        }
        for (const key of [
          'preserve_hard_links',
          'shared_service',
          'large_rotating_files',
          'large_modifying_files',
        ] as const) {
          if (key in settings) source[key] = Boolean(settings[key]);
        }
        for (const key of ['filter', 'exclude'] as const) {
          if (Array.isArray(settings[key])) source[key] = (settings[key] as unknown[]).map(String);
        }
      }
      return {};
    },

    agent_ping_checkin(body) {
      return { machine: { scheduled_sources: scheduled(loginMachine(body)) } };
    },

    agent_ping_restore(body) {
      const machine = loginMachine(body);
      const sources: Body = {};
      for (const [name, source] of machine.sources) if (source.active) sources[name] = describe(machine, source);
      return { machine: { sources } };
    },

    storage_update_config(body) {
      const request = body.storage;
      if (!isDict(request)) throw new Refusal(400, 'Missing required option "storage"');
      const name = request.name;
      if (typeof name !== 'string' || typeof request.secret !== 'string') throw badAuth();
      let storage = storages.get(name);
      if (storage !== undefined) {
        if (!storage.active || storage.secret !== request.secret) throw badAuth();
      } else {
        checkAuth(body.auth, 'storage_reg');
        for (const key of ['ssh_ping_host', 'ssh_ping_port', 'ssh_ping_user']) {
          if (!(key in request)) throw new Refusal(400, `Missing required option "storage.${key}"`);
        }
        storage = {
          secret: request.secret,
          ssh_ping_host: '',
          ssh_ping_port: 22,
          ssh_ping_user: '',
          ssh_ping_host_keys: [],
          space_total: 0,
          space_available: 0,
          comment: null,
          active: true,
          published: true,
        };
        storages.set(name, storage);
      }
      storage.published = 'published' in request ? Boolean(request.published) : true;
      for (const key of ['ssh_ping_host', 'ssh_ping_user', 'comment'] as const) {
        if (key in request) (storage as unknown as Body)[key] = request[key];
      }
      for (const key of ['ssh_ping_port', 'space_total', 'space_available'] as const) {
        if (typeof request[key] === 'number') storage[key] = Math.floor(request[key]);
      }
      if (Array.isArray(request.ssh_ping_host_keys))
        storage.ssh_ping_host_keys = request.ssh_ping_host_keys.map(String);
      const assigned: Body = {};
      for (const [uuid, machine] of machines) {
        if (machine.storage !== name || !machine.active || !machine.published) continue;
        assigned[uuid] = {
          environment_name: machine.environment_name,
          service_name: machine.service_name,
          unit_name: machine.unit_name,
          comment: machine.comment,
          ssh_public_key: machine.ssh_public_key,
        };
      }
      return { machines: assigned };
    },

    storage_ping_checkin(body) {
      const [storageName] = loginStorage(body);
      const [uuid, machine] = machineOfStorage(body, storageName);
      return {
        machine: {
          uuid,
          environment_name: machine.environment_name,
          service_name: machine.service_name,
          unit_name: machine.unit_name,
          scheduled_sources: scheduled(machine),
        },
      };
    },

    storage_ping_source_update(body) {
      const [storageName] = loginStorage(body);
      const [uuid, machine] = machineOfStorage(body, storageName);
      const reports = (body.machine as Body).sources;
      if (!isDict(reports)) throw new Refusal(400, 'Missing required option "machine.sources"');
      // Like the original, entries are applied in order until one names an unknown source.
      for (const [name, report] of Object.entries(reports)) {
        const source = machine.sources.get(name);
        if (source === undefined || !source.active || !source.published) throw new Refusal(404, 'Source not found');
        const result = isDict(report) ? report : {};
        const ok = result.success === true;
        source.success = ok;
        if (ok) {
          source.last_backed_up = now();
          source.next_backup = new Date(now().getTime() + DAY_MS);
        }
        backupLogs.push({
          machine: uuid,
          source: name,
          storage: storageName,
          success: ok,
          snapshot: typeof result.snapshot === 'string' ? result.snapshot : null,
          summary: typeof result.summary === 'string' ? result.summary : null,
        });
      }
      return {};
    },

    health() {
      let sources = 0;
      for (const machine of machines.values()) sources += machine.sources.size;
      return {
        healthy: true,
        date: pythonIsoDate(now()),
        counts: {
          auth: options.auths.length,
          storage: storages.size,
          machine: machines.size,
          source: sources,
          filter_set: 0,
          backup_log: backupLogs.length,
        },
      };
    },
  };

  // ---- HTTP -----------------------------------------------------------------------------------

  async function answer(request: IncomingMessage): Promise<{ status: number; type: string; body: string }> {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    const match = /^\/v1\/([a-z_]+)$/.exec(path);
    const view = match !== null && (VIEWS as readonly string[]).includes(match[1]!) ? (match[1] as View) : undefined;
    if (view === undefined) return { status: 404, type: 'text/html', body: NOT_FOUND_PAGE };
    const html = 'text/html; charset=utf-8';
    if (request.method !== 'POST') return { status: 405, type: html, body: '' };
    if (request.headers['content-type'] !== 'application/json') {
      return { status: 400, type: html, body: 'Bad Content-Type (expected application/json)' };
    }
    let body: unknown;
    try {
      body = JSON.parse(await readBody(request));
    } catch (error) {
      // Python's own parser words this differently; the contract test knows.
      return { status: 400, type: html, body: (error as Error).message };
    }
    try {
      if (!isDict(body)) throw new Error('the original reads the body as a dict');
      return { status: 200, type: 'application/json', body: pythonJson(views[view](body)) };
    } catch (error) {
      if (error instanceof Refusal) return { status: error.status, type: html, body: error.message };
      return { status: 500, type: 'text/html', body: SERVER_ERROR_PAGE };
    }
  }

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    void answer(request).then(({ status, type, body }) => {
      requests.push({ path: request.url ?? '', status });
      const headers: Record<string, string | number> = {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
      };
      if (status === 405) headers.Allow = 'POST';
      response.writeHead(status, headers).end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return Object.assign(stub, {
    url: `http://${host}:${address.port}/v1`,
    trigger(uuid: string, name: string) {
      const source = machines.get(canonicalUuid(uuid))?.sources.get(name);
      if (source === undefined) throw new Error(`the stub has no source ${name} of machine ${uuid}`);
      source.next_backup = new Date(now().getTime() - 1000);
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

/** How a text column keeps what it is given: strings as they are, numbers as their decimal text. */
function asText(value: unknown): string | null {
  if (value === null || typeof value === 'string') return value;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

function isDict(value: unknown): value is Body {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The forms Python's uuid.UUID() takes, to the canonical text; anything else crashes the original (500). */
function canonicalUuid(value: unknown): string {
  const hex = String(value)
    .toLowerCase()
    .replace(/^urn:uuid:/, '')
    .replace(/^\{(.*)\}$/, '$1')
    .replaceAll('-', '');
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new Error(`badly formed UUID ${String(value)}`);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Close to the original's registration check, which refuses UUIDs that look too regular: the
 * RFC 4122 variant, and between 45 and 76 one-bits among the bits that are neither version nor
 * variant. Its exact bit count is not reproduced; the recorded cases are.
 */
function isOriginalValidUuid(uuid: string): boolean {
  const hex = uuid.replaceAll('-', '');
  if (!/^[89ab]$/.test(hex[16]!)) return false;
  const bits = [...hex].map((digit) => parseInt(digit, 16).toString(2).padStart(4, '0')).join('');
  const free = bits.slice(0, 48) + bits.slice(52, 64) + bits.slice(66);
  const ones = [...free].filter((bit) => bit === '1').length;
  return ones >= 45 && ones <= 76;
}

/** The original's filter expansion with no FilterSets defined: rsync rules kept, anything else dropped. */
function expandFilters(filters: readonly string[]): string[] {
  const kept = new Set(['dir-merge', ':', 'clear', '!', 'exclude', '-', 'include', '+']);
  for (const verb of ['hide', 'H', 'show', 'S', 'protect', 'P', 'risk', 'R']) kept.add(verb);
  return filters.filter((entry) => {
    const space = entry.indexOf(' ');
    return space > 0 && kept.has(entry.slice(0, space));
  });
}

/** Python's `json.dumps` with its defaults: `", "` and `": "` separators, non-ASCII escaped. */
export function pythonJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  const entries = Object.entries(value as Body).map(([key, inner]) => `${pythonJson(key)}: ${pythonJson(inner)}`);
  return `{${entries.join(', ')}}`;
}

/** `datetime.isoformat()` of an aware UTC time: microseconds and `+00:00`. */
function pythonIsoDate(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}
