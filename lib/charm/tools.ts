// One typed method per hook tool (docs/charm-runtime.md, "Hook tools"). Each method builds the
// tool's exact argv, runs it through the swappable HookToolRunner, parses the JSON output and
// turns failures into typed errors. Read-only answers that cannot change within a hook are cached for the hook's life.
import { actionSetBatches } from './action-results.js';
import { checkArgv, truncateUtf8 } from './argv-limits.js';
import { type JujuActionContext, type JujuHookContext } from './context.js';
import { AccessError, HookToolError, classifyToolFailure } from './errors.js';
import {
  type Parse,
  ShapeError,
  asBoolean,
  asRecord,
  asRecordOf,
  asString,
  asStringList,
  asStringMap,
} from './json-shapes.js';
import { type HookToolRunner } from './runner.js';
import { metadataArgs, withSecretFile } from './secret-args.js';
import {
  applicationStatus,
  configValue,
  goalState,
  networkInfo,
  secretInfoMap,
  statusDetails,
  storageDetails,
} from './tool-output.js';
import {
  type ApplicationStatusDetails,
  type ConfigValue,
  type GoalState,
  type HookToolsOptions,
  type LogLevel,
  type NetworkInfo,
  type PortSpec,
  type RelationRef,
  type SecretAddOptions,
  type SecretInfo,
  type SecretMetadataOptions,
  type SecretRef,
  type SecretRevokeTarget,
  type StatusDetails,
  type StatusName,
  type StorageDetails,
} from './tool-types.js';

// How long an is-leader answer may be trusted (Juju guarantees leadership for about 30 s).
const LEADER_TTL_MS = 30_000;
// juju-log lines are split so one call never carries an unbounded argument.
const LOG_CHUNK = 4096;
// action-fail must get through even when the message embeds a huge program output.
const MAX_FAIL_MESSAGE_BYTES = 16 * 1024;

/** The numeric id of `ep:7` or `7`, for cache keys. */
function relationKey(relation: RelationRef): string {
  const text = String(relation);
  return text.slice(text.lastIndexOf(':') + 1);
}

/** Rejects anything but a map of string to string before it reaches a tool (docs/charm-runtime.md, "Relation data", rule 1). */
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

export class HookTools {
  private readonly cache = new Map<string, Promise<unknown>>();
  private leader: { value: boolean; at: number } | undefined;
  private readonly now: () => number;
  private readonly onStatusSet: (() => void) | undefined;

  constructor(
    private readonly runner: HookToolRunner,
    private readonly context: JujuHookContext | JujuActionContext,
    options: HookToolsOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.onStatusSet = options.onStatusSet;
  }

  // --- plumbing -------------------------------------------------------------------------------

  /**
   * Runs a tool; non-zero exit becomes a typed HookToolError. Returns stdout. An argv Linux
   * would refuse to exec throws ArgvLimitError before anything runs.
   */
  async run(tool: string, args: readonly string[], stdin?: string): Promise<string> {
    checkArgv(tool, args);
    // The runtime's status memo must know of every status change, also one a charm runs itself.
    if (tool === 'status-set') this.onStatusSet?.();
    const result = await this.runner.run(tool, args, stdin);
    if (result.code === 0) return result.stdout;
    const error = classifyToolFailure(tool, args, result);
    // Leadership can change mid-hook (docs/charm-runtime.md, "Relation data", rule 7): a refusal means our cached answer is stale.
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
    for (const batch of actionSetBatches(results)) await this.run('action-set', batch);
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
