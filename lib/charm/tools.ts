// One typed method per hook tool (spec 3.2). Each method builds the exact argv of the spec, runs it
// through the swappable HookToolRunner, parses the JSON output and turns failures into typed
// errors. Read-only answers that cannot change within a hook are cached for the hook's life.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type JujuActionContext, type JujuHookContext } from './context.js';
import { AccessError, ArgvLimitError, HookToolError, classifyToolFailure } from './errors.js';
import {
  type Parse,
  ShapeError,
  asArrayOf,
  asBoolean,
  asNumber,
  asRecord,
  asRecordOf,
  asString,
  asStringList,
  asStringMap,
  kindOf,
  optional,
  pathOf,
  withDefault,
} from './json-shapes.js';
import { type HookToolRunner } from './runner.js';

/** A relation as `-r` takes it: `registration:7` (preferred) or the bare id 7. */
export type RelationRef = string | number;

export type StatusName = 'maintenance' | 'blocked' | 'waiting' | 'active';
export type LogLevel = 'TRACE' | 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR' | 'CRITICAL';
export type ConfigValue = string | number | boolean;

export interface StatusDetails {
  status: string;
  message: string;
  data: Record<string, unknown>;
}

export interface ApplicationStatusDetails extends StatusDetails {
  units: Record<string, StatusDetails>;
}

/** A port for open-port/close-port: 8080 (tcp), "8080/udp", "1000-2000/tcp", "icmp", or a range. */
export type PortSpec = number | string | { from: number; to: number; protocol?: 'tcp' | 'udp' };

export interface NetworkInfo {
  'bind-addresses': {
    'mac-address': string;
    'interface-name': string;
    addresses: { hostname: string; value: string; cidr: string }[];
  }[];
  'egress-subnets': string[];
  'ingress-addresses': string[];
}

export interface SecretMetadataOptions {
  label?: string;
  description?: string;
  /** A Go duration (`24h`) or an RFC 3339 time. */
  expire?: string;
  rotate?: 'never' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'quarterly' | 'yearly';
}

export interface SecretAddOptions extends SecretMetadataOptions {
  owner?: 'application' | 'unit';
}

export type SecretRef = { id: string; label?: string } | { label: string };

export interface SecretInfo {
  id: string;
  revision: number;
  label?: string;
  owner: string;
  description?: string;
  rotation?: string;
  expiry?: string;
  rotates?: string;
}

export type SecretRevokeTarget = { relation: RelationRef } | { app: string } | { unit: string };

export interface StorageDetails {
  kind: string;
  location: string;
}

export interface GoalState {
  units: Record<string, { status: string; since?: string }>;
  relations: Record<string, Record<string, { status: string; since?: string }>>;
}

export interface HookToolsOptions {
  /** Milliseconds clock for the is-leader cache (tests replace it). */
  now?: () => number;
}

// How long an is-leader answer may be trusted (Juju guarantees leadership for about 30 s).
const LEADER_TTL_MS = 30_000;
// juju-log lines are split so one call never carries an unbounded argument.
const LOG_CHUNK = 4096;
// action-set's rules (Juju's jujuc/action-set.go, docs/charm-runtime.md): every dot-separated
// segment of a key has this shape and is none of the reserved names, at any depth.
const ACTION_KEY = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const RESERVED_ACTION_KEYS = new Set(['stdout', 'stdout-encoding', 'stderr', 'stderr-encoding']);

/**
 * Linux's MAX_ARG_STRLEN: one argv string, its terminating NUL included, is at most 32 pages
 * (128 KiB); a longer one makes exec fail with E2BIG before the tool runs.
 */
export const MAX_ARG_BYTES = 128 * 1024;
// ARG_MAX (a quarter of the 8 MiB stack limit, 2 MiB) bounds argv and the environment together;
// one call's argv stays at half of it, leaving the rest to the hook's environment.
const MAX_ARGV_BYTES = 1024 * 1024;
// action-set adds to the results on every call, so many pairs go out in calls of this size.
const ACTION_SET_BATCH_BYTES = 256 * 1024;
// action-fail must get through even when the message embeds a huge program output.
const MAX_FAIL_MESSAGE_BYTES = 16 * 1024;

/** Bytes an argv string takes in exec's block: its UTF-8 and the NUL. */
export function argvBytes(arg: string): number {
  return Buffer.byteLength(arg, 'utf8') + 1;
}

/** `text` cut to at most `maxBytes` of UTF-8 (never inside a character), marked when cut. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const marker = ' [... truncated]';
  let cut = Buffer.from(text, 'utf8')
    .subarray(0, maxBytes - marker.length)
    .toString('utf8');
  // A character split by the byte cut decodes to U+FFFD: drop it.
  if (cut.endsWith('\uFFFD')) cut = cut.slice(0, -1);
  return `${cut}${marker}`;
}

/** Throws ArgvLimitError when exec would refuse `tool args` (an argument, or all of them, too long). */
function checkArgv(tool: string, args: readonly string[]): void {
  let total = argvBytes(tool);
  args.forEach((arg, index) => {
    const bytes = argvBytes(arg);
    total += bytes;
    if (bytes > MAX_ARG_BYTES) {
      throw new ArgvLimitError(
        tool,
        `${tool}: argument ${index + 1} is ${bytes} bytes; Linux refuses an argument over ${MAX_ARG_BYTES} bytes (MAX_ARG_STRLEN)`,
      );
    }
  });
  if (total > MAX_ARGV_BYTES) {
    throw new ArgvLimitError(
      tool,
      `${tool}: arguments total ${total} bytes, over the ${MAX_ARGV_BYTES} this runtime allows (ARG_MAX)`,
    );
  }
}

// --- the shapes of the tools' JSON output (unknown keys are ignored) ---------------------------

function configValue(value: unknown, path: string): ConfigValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw new ShapeError(path, 'a string, number or boolean', kindOf(value));
}

/** status-get's `{status, message?, status-data?}`. */
function statusDetails(value: unknown, path: string): StatusDetails {
  const record = asRecord(value, path);
  return {
    status: asString(record.status, pathOf(path, 'status')),
    message: optional(record.message, pathOf(path, 'message'), asString) ?? '',
    data: optional(record['status-data'], pathOf(path, 'status-data'), asRecord) ?? {},
  };
}

function applicationStatus(value: unknown, path: string): ApplicationStatusDetails {
  const inner = pathOf(path, 'application-status');
  const record = asRecord(asRecord(value, path)['application-status'], inner);
  const units = optional(record.units, pathOf(inner, 'units'), (map, at) => asRecordOf(map, at, statusDetails));
  return { ...statusDetails(record, inner), units: units ?? {} };
}

/** secret-info-get prints `{<id>: {revision, owner, label?, ...}}`. */
function secretInfoMap(value: unknown, path: string): Record<string, Omit<SecretInfo, 'id'>> {
  return asRecordOf(value, path, (entry, at) => {
    const record = asRecord(entry, at);
    const info: Omit<SecretInfo, 'id'> = {
      revision: asNumber(record.revision, pathOf(at, 'revision')),
      owner: asString(record.owner, pathOf(at, 'owner')),
    };
    for (const field of ['label', 'description', 'rotation', 'expiry', 'rotates'] as const) {
      const text = optional(record[field], pathOf(at, field), asString);
      if (text !== undefined) info[field] = text;
    }
    return info;
  });
}

function storageDetails(value: unknown, path: string): StorageDetails {
  const record = asRecord(value, path);
  return {
    kind: asString(record.kind, pathOf(path, 'kind')),
    location: asString(record.location, pathOf(path, 'location')),
  };
}

/** network-get output; absent lists and names default to empty (older Juju omits some). */
function networkInfo(value: unknown, path: string): NetworkInfo {
  const record = asRecord(value, path);
  const address = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    return {
      hostname: asString(fields.hostname, pathOf(at, 'hostname')),
      value: asString(fields.value, pathOf(at, 'value')),
      cidr: asString(fields.cidr, pathOf(at, 'cidr')),
    };
  };
  const binding = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    return {
      'mac-address': withDefault(fields['mac-address'], pathOf(at, 'mac-address'), asString, ''),
      'interface-name': withDefault(fields['interface-name'], pathOf(at, 'interface-name'), asString, ''),
      addresses: withDefault(fields.addresses, pathOf(at, 'addresses'), (list, p) => asArrayOf(list, p, address), []),
    };
  };
  const list = <T>(key: string, item: Parse<T>): T[] =>
    withDefault(record[key], pathOf(path, key), (items, at) => asArrayOf(items, at, item), []);
  return {
    'bind-addresses': list('bind-addresses', binding),
    'egress-subnets': list('egress-subnets', asString),
    'ingress-addresses': list('ingress-addresses', asString),
  };
}

function goalState(value: unknown, path: string): GoalState {
  const record = asRecord(value, path);
  const entry = (item: unknown, at: string) => {
    const fields = asRecord(item, at);
    const since = optional(fields.since, pathOf(at, 'since'), asString);
    const status = asString(fields.status, pathOf(at, 'status'));
    return since === undefined ? { status } : { status, since };
  };
  const units = (map: unknown, at: string) => asRecordOf(map, at, entry);
  return {
    units: withDefault(record.units, pathOf(path, 'units'), units, {}),
    relations: withDefault(record.relations, pathOf(path, 'relations'), (map, at) => asRecordOf(map, at, units), {}),
  };
}

/** The numeric id of `ep:7` or `7`, for cache keys. */
function relationKey(relation: RelationRef): string {
  const text = String(relation);
  return text.slice(text.lastIndexOf(':') + 1);
}

/** Rejects anything but a map of string to string before it reaches a tool (spec 4 rule 1). */
function assertStringMap(what: string, data: unknown): asserts data is Record<string, string> {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new TypeError(`${what}: expected an object`);
  for (const [key, value] of Object.entries(data)) {
    if (key === '') throw new TypeError(`${what}: empty key`);
    if (typeof value !== 'string') {
      throw new TypeError(`${what}: value of "${key}" must be a string, got ${value === null ? 'null' : typeof value}`);
    }
  }
}

function formatPort(port: PortSpec): string {
  if (typeof port === 'number') return `${port}/tcp`;
  if (typeof port === 'string') return port;
  return `${port.from}-${port.to}/${port.protocol ?? 'tcp'}`;
}

/** Nested action results as the dotted `key=value` pairs action-set takes (it has no --file). */
export function flattenActionResults(results: Record<string, unknown>): string[] {
  const pairs: string[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (value === undefined || value === null) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
        if (!ACTION_KEY.test(key)) {
          throw new TypeError(
            `action result key "${[...path, key].join('.')}": each segment must be lowercase alphanumeric with inner hyphens`,
          );
        }
        // Juju refuses a reserved name as any segment, not only the top one.
        if (RESERVED_ACTION_KEYS.has(key)) {
          throw new TypeError(`action result key "${[...path, key].join('.')}": "${key}" is reserved by Juju`);
        }
        walk(inner, [...path, key]);
      }
      return;
    }
    pairs.push(`${path.join('.')}=${resultText(value, path)}`);
  };
  walk(results, []);
  return pairs;
}

function resultText(value: unknown, path: readonly string[]): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return JSON.stringify(value);
  throw new TypeError(`action result key "${path.join('.')}": cannot store a ${typeof value}`);
}

/** A secret id without its `secret:` prefix: older Juju prints bare ids, newer prints URIs. */
export function normaliseSecretId(id: string): string {
  return id.startsWith('secret:') ? id.slice('secret:'.length) : id;
}

export class HookTools {
  private readonly cache = new Map<string, Promise<unknown>>();
  private leader: { value: boolean; at: number } | undefined;
  private readonly now: () => number;

  constructor(
    private readonly runner: HookToolRunner,
    private readonly context: JujuHookContext | JujuActionContext,
    options: HookToolsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  // --- plumbing -------------------------------------------------------------------------------

  /**
   * Runs a tool; non-zero exit becomes a typed HookToolError. Returns stdout. An argv Linux
   * would refuse to exec throws ArgvLimitError before anything runs.
   */
  async run(tool: string, args: readonly string[], stdin?: string): Promise<string> {
    checkArgv(tool, args);
    const result = await this.runner.run(tool, args, stdin);
    if (result.code === 0) return result.stdout;
    const error = classifyToolFailure(tool, args, result);
    // Leadership can change mid-hook (spec 4 rule 7): a refusal means our cached answer is stale.
    if (error instanceof AccessError && /not the leader|cannot write relation settings/.test(error.message)) {
      this.leader = undefined;
    }
    throw error;
  }

  /** Runs a `--format=json` tool and checks its output's shape; `null` or nothing becomes `fallback`. */
  private async json<T>(tool: string, args: readonly string[], parse: Parse<T>, fallback?: T): Promise<T> {
    const stdout = await this.run(tool, args);
    let value: unknown = null;
    if (stdout.trim() !== '') {
      try {
        value = JSON.parse(stdout);
      } catch {
        throw new HookToolError(tool, args, 0, stdout, '', `ERROR ${tool} printed invalid JSON`);
      }
    }
    if (value === null && fallback !== undefined) return fallback;
    try {
      return parse(value, '');
    } catch (error) {
      if (!(error instanceof ShapeError)) throw error;
      throw new HookToolError(tool, args, 0, stdout, '', `ERROR ${tool} printed unexpected output: ${error.message}`);
    }
  }

  /** Memoises a read for the rest of the hook; a failed read is not remembered. */
  private cached<T>(key: string, read: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit) return hit as Promise<T>;
    const pending = read();
    this.cache.set(key, pending);
    pending.catch(() => this.cache.delete(key));
    return pending;
  }

  private forget(predicate: (key: string) => boolean): void {
    for (const key of [...this.cache.keys()]) if (predicate(key)) this.cache.delete(key);
  }

  // --- relations ------------------------------------------------------------------------------

  /** `relation-ids --format=json <endpoint>`: sorted `endpoint:id` strings. Cached. */
  relationIds(endpoint: string): Promise<string[]> {
    return this.cached(`relation-ids ${endpoint}`, () =>
      this.json('relation-ids', ['--format=json', endpoint], asStringList, []),
    );
  }

  /** `relation-list --format=json -r ID`: remote units joined and not departed. Cached. */
  relationList(relation: RelationRef): Promise<string[]> {
    return this.cached(`relation-list ${relationKey(relation)}`, () =>
      this.json('relation-list', ['--format=json', '-r', String(relation)], asStringList, []),
    );
  }

  /** `relation-list --format=json -r ID --app`: the remote application's name. Cached. */
  relationRemoteApp(relation: RelationRef): Promise<string> {
    return this.cached(`relation-list-app ${relationKey(relation)}`, () =>
      this.json('relation-list', ['--format=json', '-r', String(relation), '--app'], asString),
    );
  }

  /**
   * `relation-get --format=json -r ID [--app] - <target>`: a whole bag. `target` is a unit name,
   * or with `{app: true}` an application (or one of its units). Cached; the own bags are
   * forgotten when relationSet writes them.
   */
  relationGet(relation: RelationRef, target: string, options: { app?: boolean } = {}): Promise<Record<string, string>> {
    const args = ['--format=json', '-r', String(relation)];
    if (options.app) args.push('--app');
    args.push('-', target);
    const key = `relation-get ${relationKey(relation)} ${options.app ? 'app' : 'unit'} ${target}`;
    return this.cached(key, () => this.json('relation-get', args, asStringMap, {}));
  }

  /**
   * `relation-set -r ID [--app] --file -` with the data as a JSON object of strings on stdin
   * (no argv limits, no quoting). A value of "" deletes the key.
   */
  async relationSet(
    relation: RelationRef,
    data: Record<string, string>,
    options: { app?: boolean } = {},
  ): Promise<void> {
    assertStringMap('relation-set', data);
    const args = ['-r', String(relation)];
    if (options.app) args.push('--app');
    args.push('--file', '-');
    const id = relationKey(relation);
    // Even a failed write may have been partly applied; the next read must ask again.
    this.forget((key) => key.startsWith(`relation-get ${id} `) && this.isOwnTarget(key));
    await this.run('relation-set', args, JSON.stringify(data));
    this.forget((key) => key.startsWith(`relation-get ${id} `) && this.isOwnTarget(key));
  }

  private isOwnTarget(cacheKey: string): boolean {
    const target = cacheKey.slice(cacheKey.lastIndexOf(' ') + 1);
    return target === this.context.unit || target === this.context.app;
  }

  // --- configuration, status, version -----------------------------------------------------------

  /** `config-get --format=json`: options that are set or have a default. Cached. */
  configGet(): Promise<Record<string, ConfigValue>> {
    return this.cached('config-get', () =>
      this.json('config-get', ['--format=json'], (value, path) => asRecordOf(value, path, configValue), {}),
    );
  }

  /** `status-set [--application] <status> -- <message>` (immediate). */
  async statusSet(status: StatusName, message = '', options: { application?: boolean } = {}): Promise<void> {
    const args = options.application ? ['--application'] : [];
    args.push(status, '--', message);
    await this.run('status-set', args);
  }

  /** `status-get --format=json --include-data`: the unit's workload status. */
  statusGet(): Promise<StatusDetails> {
    return this.json('status-get', ['--format=json', '--include-data'], statusDetails);
  }

  /** `status-get --format=json --include-data --application` (leader only). */
  applicationStatusGet(): Promise<ApplicationStatusDetails> {
    return this.json('status-get', ['--format=json', '--include-data', '--application'], applicationStatus);
  }

  /** `application-version-set <version>` (immediate). */
  async applicationVersionSet(version: string): Promise<void> {
    await this.run('application-version-set', ['--', version]);
  }

  // --- actions --------------------------------------------------------------------------------

  /** `action-get --format=json`: the params with schema defaults inserted. */
  actionGet(): Promise<Record<string, unknown>> {
    return this.json('action-get', ['--format=json'], asRecord, {});
  }

  /**
   * `action-set k=v a.b=v ...`: nested results flattened to dotted keys, values as strings.
   * action-set reads only argv, so a value over MAX_ARG_BYTES cannot be set at all: this throws
   * ArgvLimitError naming the key before setting anything (return a bounded result and write the
   * rest to a file: large-results.ts). Many pairs go out in several calls, each well under ARG_MAX.
   */
  async actionSet(results: Record<string, unknown>): Promise<void> {
    const pairs = flattenActionResults(results);
    for (const pair of pairs) {
      const bytes = argvBytes(pair);
      if (bytes > MAX_ARG_BYTES) {
        const key = pair.slice(0, pair.indexOf('='));
        throw new ArgvLimitError(
          'action-set',
          `action result "${key}" is ${bytes} bytes, over the ${MAX_ARG_BYTES} Linux allows one argument; ` +
            'return a bounded result and write the whole output to a file on the unit (lib/charm/large-results.ts)',
        );
      }
    }
    let batch: string[] = [];
    let batchBytes = 0;
    for (const pair of pairs) {
      const bytes = argvBytes(pair);
      if (batch.length > 0 && batchBytes + bytes > ACTION_SET_BATCH_BYTES) {
        await this.run('action-set', batch);
        batch = [];
        batchBytes = 0;
      }
      batch.push(pair);
      batchBytes += bytes;
    }
    if (batch.length > 0) await this.run('action-set', batch);
  }

  /**
   * `action-fail [-- <message>]`: marks the task failed; exit 0 afterwards keeps pending changes.
   * A message over 16 KiB is cut (marked) so the failure itself always gets through.
   */
  async actionFail(message?: string): Promise<void> {
    await this.run('action-fail', message === undefined ? [] : ['--', truncateUtf8(message, MAX_FAIL_MESSAGE_BYTES)]);
  }

  /** `action-log -- <message>`: an immediate progress line. */
  async actionLog(message: string): Promise<void> {
    await this.run('action-log', ['--', message]);
  }

  // --- logging --------------------------------------------------------------------------------

  /** `juju-log --log-level LEVEL -- <message>`, split into chunks when very long; '' logs nothing. */
  async jujuLog(message: string, level: LogLevel = 'INFO'): Promise<void> {
    for (let start = 0; start < message.length; start += LOG_CHUNK) {
      await this.run('juju-log', ['--log-level', level, '--', message.slice(start, start + LOG_CHUNK)]);
    }
  }

  // --- leadership -----------------------------------------------------------------------------

  /** `is-leader --format=json`; an answer is trusted for at most 30 s. */
  async isLeader(): Promise<boolean> {
    const now = this.now();
    if (this.leader && now - this.leader.at < LEADER_TTL_MS) return this.leader.value;
    const value = await this.json('is-leader', ['--format=json'], asBoolean);
    this.leader = { value, at: now };
    return value;
  }

  /** Forgets the cached is-leader answer (e.g. after `not the leader` from a write). */
  forgetLeadership(): void {
    this.leader = undefined;
  }

  /** `leader-get --format=json`: leader settings (any unit may read). */
  leaderGet(): Promise<Record<string, string>> {
    return this.json('leader-get', ['--format=json'], asStringMap, {});
  }

  /** `leader-set k=v ...` (leader only, immediate). Deprecated by Juju; prefer the peer app bag. */
  async leaderSet(data: Record<string, string>): Promise<void> {
    assertStringMap('leader-set', data);
    const pairs = Object.entries(data).map(([key, value]) => `${key}=${value}`);
    if (pairs.length > 0) await this.run('leader-set', pairs);
  }

  // --- network and ports ----------------------------------------------------------------------

  /** `open-port [--endpoints a,b] <port>` (transactional). */
  async openPort(port: PortSpec, options: { endpoints?: string[] } = {}): Promise<void> {
    await this.run('open-port', this.portArgs(port, options));
  }

  /** `close-port [--endpoints a,b] <port>` (transactional). */
  async closePort(port: PortSpec, options: { endpoints?: string[] } = {}): Promise<void> {
    await this.run('close-port', this.portArgs(port, options));
  }

  private portArgs(port: PortSpec, options: { endpoints?: string[] }): string[] {
    const args = options.endpoints?.length ? ['--endpoints', options.endpoints.join(',')] : [];
    args.push(formatPort(port));
    return args;
  }

  /** `opened-ports --format=json`: committed ports such as `8080/tcp`. */
  openedPorts(): Promise<string[]> {
    return this.json('opened-ports', ['--format=json'], asStringList, []);
  }

  /** `unit-get --format=json <private-address|public-address>`. Cached. */
  unitGet(setting: 'private-address' | 'public-address'): Promise<string> {
    return this.cached(`unit-get ${setting}`, () => this.json('unit-get', ['--format=json', setting], asString));
  }

  /** `network-get --format=json [-r ID] <binding>`. Cached. */
  networkGet(binding: string, options: { relation?: RelationRef } = {}): Promise<NetworkInfo> {
    const args = ['--format=json'];
    if (options.relation !== undefined) args.push('-r', String(options.relation));
    args.push(binding);
    const key = `network-get ${binding} ${options.relation === undefined ? '' : relationKey(options.relation)}`;
    return this.cached(key, () => this.json('network-get', args, networkInfo));
  }

  // --- per-unit state -------------------------------------------------------------------------

  /** `state-get --format=json`: the unit's whole state map (with this hook's writes). */
  stateGet(): Promise<Record<string, string>> {
    return this.json('state-get', ['--format=json'], asStringMap, {});
  }

  /** `state-set --file -` with a JSON object of strings on stdin (transactional). */
  async stateSet(data: Record<string, string>): Promise<void> {
    assertStringMap('state-set', data);
    await this.run('state-set', ['--file', '-'], JSON.stringify(data));
  }

  /** `state-delete <key>` (transactional; a missing key is a no-op). */
  async stateDelete(key: string): Promise<void> {
    await this.run('state-delete', ['--', key]);
  }

  // --- secrets --------------------------------------------------------------------------------

  /** `secret-add [opts] --file <0600 temp file>`: content never appears in argv. Returns the URI. */
  async secretAdd(content: Record<string, string>, options: SecretAddOptions = {}): Promise<string> {
    assertStringMap('secret-add', content);
    const args = options.owner ? ['--owner', options.owner] : [];
    args.push(...metadataArgs(options));
    const stdout = await withSecretFile(content, (path) => this.run('secret-add', [...args, '--file', path]));
    return stdout.trim();
  }

  /**
   * `secret-get [<ID>] [--label L] [--refresh|--peek] --format=json`: the decoded content.
   * With both id and label, the label becomes this unit's label for the secret.
   */
  async secretGet(
    secret: SecretRef,
    options: { refresh?: boolean; peek?: boolean } = {},
  ): Promise<Record<string, string>> {
    if (options.refresh && options.peek) throw new TypeError('secret-get: use refresh or peek, not both');
    const args = 'id' in secret ? [secret.id] : [];
    if (secret.label !== undefined) args.push('--label', secret.label);
    if (options.refresh) args.push('--refresh');
    if (options.peek) args.push('--peek');
    args.push('--format=json');
    return this.json('secret-get', args, asStringMap, {});
  }

  /** `secret-set <ID> [opts] [--file <0600 temp file>]`: new revision with content, else metadata only. */
  async secretSet(
    id: string,
    options: SecretMetadataOptions & { content?: Record<string, string> } = {},
  ): Promise<void> {
    const args = [id, ...metadataArgs(options)];
    if (options.content === undefined) {
      await this.run('secret-set', args);
      return;
    }
    assertStringMap('secret-set', options.content);
    await withSecretFile(options.content, (path) => this.run('secret-set', [...args, '--file', path]));
  }

  /** `secret-grant -r <relation> [--unit <unit>] <ID>`. */
  async secretGrant(id: string, relation: RelationRef, options: { unit?: string } = {}): Promise<void> {
    const args = ['-r', String(relation)];
    if (options.unit !== undefined) args.push('--unit', options.unit);
    args.push(id);
    await this.run('secret-grant', args);
  }

  /** `secret-revoke <ID> -r <relation> | --app <app> | --unit <unit>`. */
  async secretRevoke(id: string, target: SecretRevokeTarget): Promise<void> {
    const args = [id];
    if ('relation' in target) args.push('-r', String(target.relation));
    else if ('app' in target) args.push('--app', target.app);
    else args.push('--unit', target.unit);
    await this.run('secret-revoke', args);
  }

  /** `secret-remove <ID> [--revision N]`. */
  async secretRemove(id: string, options: { revision?: number } = {}): Promise<void> {
    const args = [id];
    if (options.revision !== undefined) args.push('--revision', String(options.revision));
    await this.run('secret-remove', args);
  }

  /** `secret-ids --format=json`: ids of secrets this application/unit owns (`null` -> []). */
  secretIds(): Promise<string[]> {
    return this.json('secret-ids', ['--format=json'], asStringList, []);
  }

  /** `secret-info-get <ID> | --label L --format=json` (owner only). */
  async secretInfoGet(secret: SecretRef): Promise<SecretInfo> {
    const args = 'id' in secret ? [secret.id] : ['--label', secret.label];
    args.push('--format=json');
    const map = await this.json('secret-info-get', args, secretInfoMap);
    const [id, info] = Object.entries(map)[0] ?? [];
    if (id === undefined || info === undefined) {
      throw new HookToolError('secret-info-get', args, 0, '', '', 'ERROR secret-info-get printed no secret');
    }
    return { id, ...info };
  }

  // --- storage --------------------------------------------------------------------------------

  /** `storage-get --format=json [-s <id>]`: kind and location (defaults to the hook's storage). */
  storageGet(storageId?: string): Promise<StorageDetails> {
    const args = ['--format=json'];
    if (storageId !== undefined) args.push('-s', storageId);
    return this.json('storage-get', args, storageDetails);
  }

  /** `storage-list --format=json [<name>]`: ids attached to this unit. */
  storageList(name?: string): Promise<string[]> {
    return this.json(
      'storage-list',
      name === undefined ? ['--format=json'] : ['--format=json', name],
      asStringList,
      [],
    );
  }

  /** `storage-add <name>=<count> ...` (transactional). */
  async storageAdd(counts: Record<string, number>): Promise<void> {
    const pairs = Object.entries(counts).map(([name, count]) => {
      if (!Number.isInteger(count) || count < 1)
        throw new TypeError(`storage-add: count of "${name}" must be a positive integer`);
      return `${name}=${count}`;
    });
    if (pairs.length > 0) await this.run('storage-add', pairs);
  }

  // --- model view -----------------------------------------------------------------------------

  /** `goal-state --format=json`: what Juju intends. Cached. */
  goalState(): Promise<GoalState> {
    return this.cached('goal-state', () => this.json('goal-state', ['--format=json'], goalState));
  }
}

function metadataArgs(options: SecretMetadataOptions): string[] {
  const args: string[] = [];
  if (options.label !== undefined) args.push('--label', options.label);
  if (options.description !== undefined) args.push('--description', options.description);
  if (options.expire !== undefined) args.push('--expire', options.expire);
  if (options.rotate !== undefined) args.push('--rotate', options.rotate);
  return args;
}

/** Writes secret content to a 0600 file in a private temporary directory, removed afterwards. */
async function withSecretFile<T>(content: Record<string, string>, use: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'charm-secret-'));
  try {
    const path = join(dir, 'content.yaml');
    // JSON is YAML; the tool reads the file as a YAML map of key -> value.
    await writeFile(path, JSON.stringify(content), { mode: 0o600 });
    return await use(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
