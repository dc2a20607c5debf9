// secret-add, secret-get, secret-set, secret-grant, secret-revoke, secret-remove, secret-ids,
// secret-info-get (docs/charm-runtime.md, "Hook tools" and "Secrets"). Owner operations on an application's
// secrets need the leader; consumers need a grant. Every reader, the owner included (Juju
// 3.1.7+), tracks a revision; its record is written to the model at once (like Juju's
// controller-side consumer record), the rest at commit.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FAILSAFE_SCHEMA, load } from 'js-yaml';
import { type Bag, type Secret, type SecretRevision, appOf, remoteApp } from '../model.js';
import { sameBag } from '../pending.js';
import { type ToolContext, isLeader, relationFlag, unitOf } from './context.js';
import { type FlagSpecs, type ParsedArgs, checkEmpty, parseFlags, runtimeError, usageError } from './flags.js';
import { OUTPUT_FLAGS, chosenFormat, emit } from './output.js';

const ID_ALPHABET = '0123456789abcdefghijklmnopqrstuv';
const ID_PATTERN = /^[0-9a-v]{20}$/;
const KEY_PATTERN = /^[a-z](?:-?[a-z0-9]){2,}$/;
const ROTATE_POLICIES = ['never', 'hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'];
const GO_DURATION = /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/;
const DURATION_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

function newSecretId(ctx: ToolContext): string {
  for (;;) {
    const id = [...randomBytes(20)].map((byte) => ID_ALPHABET[byte % 32]).join('');
    if (ctx.pending.secret(id) === undefined) return id;
  }
}

/** Accepts `secret:<id>`, `secret://<model-uuid>/<id>` or a bare id. */
function secretId(text: string): string {
  const id = text.replace(/^secret:(?:\/\/[^/]+\/)?/, '');
  if (!ID_PATTERN.test(id)) throw usageError(`secret URI ${JSON.stringify(text)} not valid`);
  return id;
}

function ownsByApp(ctx: ToolContext, secret: Secret): boolean {
  return secret.owner.kind === 'application' && secret.owner.app === unitOf(ctx).app;
}

function ownsByUnit(ctx: ToolContext, secret: Secret): boolean {
  return secret.owner.kind === 'unit' && secret.owner.unit === ctx.unitName;
}

function isOwner(ctx: ToolContext, secret: Secret): boolean {
  return ownsByApp(ctx, secret) || ownsByUnit(ctx, secret);
}

/** Owner operations: the owning unit, or the leader of the owning application. */
function requireManage(ctx: ToolContext, secret: Secret): void {
  if (ownsByUnit(ctx, secret)) return;
  if (!ownsByApp(ctx, secret)) throw runtimeError('permission denied');
  if (!isLeader(ctx)) throw runtimeError('this unit is not the leader');
}

function latest(secret: Secret): SecretRevision {
  const revision = secret.revisions.reduce<SecretRevision | undefined>(
    (best, candidate) => (best === undefined || candidate.revision > best.revision ? candidate : best),
    undefined,
  );
  if (revision === undefined) throw runtimeError(`secret ${JSON.stringify(secret.id)} has no revisions`);
  return revision;
}

function hasGrant(ctx: ToolContext, secret: Secret): boolean {
  const unit = unitOf(ctx);
  return secret.grants.some((grant) => (grant.unit !== undefined ? grant.unit === unit.name : grant.app === unit.app));
}

function findSecret(ctx: ToolContext, id: string): Secret {
  const secret = ctx.pending.secret(id);
  if (secret === undefined) throw runtimeError(`secret ${JSON.stringify(id)} not found`);
  return secret;
}

/** A label names an owned secret (owner label) or a consumed one (this unit's consumer label). */
function findByLabel(ctx: ToolContext, label: string): Secret | undefined {
  const secrets = ctx.pending.secrets();
  return (
    secrets.find((secret) => isOwner(ctx, secret) && secret.label === label) ??
    secrets.find((secret) => secret.consumers[ctx.unitName]?.label === label)
  );
}

/**
 * Adds one entry to the (decoded) content: `key#base64` values arrive encoded, others as text.
 * Juju stores everything base64-encoded; the fake stores the decoded text.
 */
function addEntry(content: Bag, rawKey: string, value: string): void {
  const base64 = rawKey.endsWith('#base64');
  const key = base64 ? rawKey.slice(0, -'#base64'.length) : rawKey;
  if (!KEY_PATTERN.test(key)) throw usageError(`key ${JSON.stringify(key)} not valid`);
  content[key] = base64 ? Buffer.from(value, 'base64').toString('utf8') : value;
}

/** `key=value`, `key#base64=value`, `key#file=path` arguments and the `--file` YAML map, like Juju's Init. */
function secretContent(parsed: ParsedArgs, values: readonly string[]): Bag {
  const content: Bag = {};
  for (const arg of values) {
    // Trailing `=` may be base64 padding, so the key ends at the first `=` before it.
    const split = arg.replace(/=+$/, '').indexOf('=');
    if (split < 1) throw usageError(`key value ${JSON.stringify(arg)} not valid`);
    let key = arg.slice(0, split);
    let value = arg.slice(split + 1);
    if (key.endsWith('#file')) {
      key = key.slice(0, -'#file'.length);
      try {
        value = readFileSync(value, 'utf8');
      } catch {
        throw usageError(
          `reading content for secret key ${JSON.stringify(key)}: open ${value}: no such file or directory`,
        );
      }
    }
    addEntry(content, key, value);
  }
  const file = parsed.values['file'];
  if (file !== undefined) {
    let data: unknown;
    try {
      data = load(readFileSync(file, 'utf8'), { schema: FAILSAFE_SCHEMA });
    } catch {
      throw usageError(`cannot read secret content from ${JSON.stringify(file)}`);
    }
    if (data !== null && typeof data === 'object' && !Array.isArray(data)) {
      for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
        if (typeof value !== 'string') throw usageError(`secret value for ${JSON.stringify(key)} must be a string`);
        addEntry(content, key, value);
      }
    }
  }
  return content;
}

const METADATA_FLAGS: FlagSpecs = {
  label: { long: 'label', kind: 'value' },
  description: { long: 'description', kind: 'value' },
  expire: { long: 'expire', kind: 'value' },
  rotate: { long: 'rotate', kind: 'value' },
  file: { long: 'file', kind: 'value' },
};

interface Metadata {
  label?: string;
  description?: string;
  expire?: string;
  rotate?: string;
}

function metadata(ctx: ToolContext, parsed: ParsedArgs): Metadata {
  const result: Metadata = {};
  const { label, description, expire, rotate } = parsed.values;
  if (label !== undefined) result.label = label;
  if (description !== undefined) result.description = description;
  if (rotate !== undefined) {
    if (!ROTATE_POLICIES.includes(rotate)) throw usageError(`rotate policy ${JSON.stringify(rotate)} not valid`);
    result.rotate = rotate;
  }
  if (expire !== undefined) {
    if (GO_DURATION.test(expire)) {
      let ms = 0;
      for (const [, amount, unit] of expire.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) {
        ms += Number(amount) * (DURATION_MS[unit as string] ?? 0);
      }
      result.expire = new Date(ctx.model.now().getTime() + ms).toISOString();
    } else if (!Number.isNaN(Date.parse(expire)) && /^\d{4}-\d{2}-\d{2}T/.test(expire)) {
      result.expire = new Date(expire).toISOString();
    } else {
      throw usageError(`expire time or duration ${JSON.stringify(expire)} not valid`);
    }
  }
  return result;
}

function applyMetadata(secret: Secret, meta: Metadata): void {
  if (meta.label !== undefined) secret.label = meta.label;
  if (meta.description !== undefined) secret.description = meta.description;
  if (meta.expire !== undefined) secret.expire = meta.expire;
  if (meta.rotate !== undefined) secret.rotate = meta.rotate;
}

function checkOwnerLabelFree(ctx: ToolContext, label: string | undefined, except?: string): void {
  if (label === undefined) return;
  const taken = ctx.pending.secrets().some((s) => s.id !== except && isOwner(ctx, s) && s.label === label);
  if (taken) throw runtimeError(`secret with label ${JSON.stringify(label)} already exists`);
}

export function secretAdd(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...METADATA_FLAGS, owner: { long: 'owner', kind: 'value' } });
  const owner = parsed.values['owner'] ?? 'application';
  if (owner !== 'application' && owner !== 'unit') {
    throw usageError(`secret owner ${JSON.stringify(owner)} not valid`);
  }
  const meta = metadata(ctx, parsed);
  if (parsed.positional.length === 0 && parsed.values['file'] === undefined) {
    throw usageError('missing secret value or filename');
  }
  const content = secretContent(parsed, parsed.positional);
  if (Object.keys(content).length === 0) throw runtimeError('empty secret value not valid');
  const unit = unitOf(ctx);
  if (owner === 'application' && !isLeader(ctx)) throw runtimeError('this unit is not the leader');
  const secret: Secret = {
    id: newSecretId(ctx),
    owner: owner === 'application' ? { kind: 'application', app: unit.app } : { kind: 'unit', unit: unit.name },
    revisions: [{ revision: 1, content }],
    grants: [],
    consumers: {},
    removeNotified: [],
  };
  checkOwnerLabelFree(ctx, meta.label);
  applyMetadata(secret, meta);
  ctx.pending.createSecret(secret);
  return `secret:${secret.id}\n`;
}

export function secretGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    ...OUTPUT_FLAGS,
    label: { long: 'label', kind: 'value' },
    refresh: { long: 'refresh', kind: 'bool' },
    peek: { long: 'peek', kind: 'bool' },
  });
  const format = chosenFormat(parsed, ['yaml', 'json']);
  const refresh = parsed.bools['refresh'] === true;
  const peek = parsed.bools['peek'] === true;
  const label = parsed.values['label'];
  // As in Juju, the first argument is always the secret id; the key comes second.
  const [ref, keyArg, ...rest] = parsed.positional;
  const id = ref === undefined ? undefined : secretId(ref);
  if (id === undefined && label === undefined) throw usageError('require either a secret URI or label');
  if (refresh && peek) throw usageError('specify one of --peek or --refresh but not both');
  checkEmpty(rest);
  let secret: Secret;
  if (id !== undefined) secret = findSecret(ctx, id);
  else {
    const found = findByLabel(ctx, label as string);
    if (found === undefined) throw runtimeError(`secret with label ${JSON.stringify(label)} not found`);
    secret = found;
  }

  let content: Bag;
  const committed = ctx.model.secrets[secret.id];
  if (isOwner(ctx, secret)) {
    if (committed === undefined) {
      // Added in this hook: its content is not stored yet, so every read returns it.
      content = latest(secret).content;
    } else if ((refresh || peek) && ctx.pending.hasNewRevision(secret.id)) {
      // This hook's own secret-set: --peek and --refresh see it; --refresh tracks it at commit.
      content = latest(secret).content;
      if (refresh) ctx.pending.trackLatestOnCommit(secret.id);
    } else {
      // Juju 3.1.7+: the owner tracks a revision like any consumer (docs/charm-runtime.md).
      content = trackedContent(ctx, committed, refresh, peek);
    }
  } else {
    if (committed === undefined) throw runtimeError(`secret ${JSON.stringify(secret.id)} not found`);
    if (!hasGrant(ctx, committed)) throw runtimeError('permission denied');
    content = trackedContent(ctx, committed, refresh, peek);
    if (ref !== undefined && label !== undefined) {
      const record = committed.consumers[ctx.unitName];
      if (record !== undefined) record.label = label;
    }
  }

  if (keyArg === undefined) return emit(parsed, content, format);
  const base64 = keyArg.endsWith('#base64');
  const key = base64 ? keyArg.slice(0, -'#base64'.length) : keyArg;
  const value = content[key];
  if (value === undefined) throw runtimeError(`secret key value ${JSON.stringify(key)} not found`);
  return emit(parsed, base64 ? Buffer.from(value, 'utf8').toString('base64') : value, format);
}

/**
 * A committed secret's content as this unit reads it (Juju's getConsumedRevision): the revision it
 * tracks; --refresh moves the tracking to the latest revision first; --peek reads the latest
 * without moving it. The first read of a unit with no record starts tracking the latest. The
 * record is the controller's, so it is written at once, whatever the hook's outcome.
 */
function trackedContent(ctx: ToolContext, committed: Secret, refresh: boolean, peek: boolean): Bag {
  const newest = latest(committed);
  let record = committed.consumers[ctx.unitName];
  if (record === undefined || refresh) {
    const notified = Math.max(record?.notifiedRevision ?? 0, newest.revision);
    record = { ...record, tracked: newest.revision, notifiedRevision: notified };
    committed.consumers[ctx.unitName] = record;
  }
  if (peek) return newest.content;
  const tracked = committed.revisions.find((revision) => revision.revision === record.tracked);
  return (tracked ?? newest).content;
}

export function secretSet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, METADATA_FLAGS);
  const [ref, ...values] = parsed.positional;
  if (ref === undefined) throw usageError('missing secret URI');
  const id = secretId(ref);
  const meta = metadata(ctx, parsed);
  const content = secretContent(parsed, values);
  requireManage(ctx, findSecret(ctx, id));
  checkOwnerLabelFree(ctx, meta.label, id);
  const copy = ctx.pending.editSecret(id) as Secret;
  applyMetadata(copy, meta);
  if (Object.keys(content).length === 0) return '';
  const current = latest(copy);
  if (sameBag(current.content, content)) return '';
  // One new revision per hook: later secret-set calls in the same hook replace its content.
  if (ctx.pending.startRevision(id)) copy.revisions.push({ revision: current.revision + 1, content });
  else current.content = content;
  return '';
}

export function secretGrant(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    relation: { short: 'r', long: 'relation', kind: 'value' },
    unit: { long: 'unit', kind: 'value' },
  });
  const [ref, ...rest] = parsed.positional;
  if (ref === undefined) throw usageError('missing secret URI');
  checkEmpty(rest);
  const id = secretId(ref);
  const relation = relationFlag(ctx, parsed);
  if (relation === undefined) throw usageError('no relation id specified');
  const app = remoteApp(relation, unitOf(ctx).app) ?? '';
  const grantUnit = parsed.values['unit'];
  if (grantUnit !== undefined && appOf(grantUnit) !== app) {
    throw usageError(
      `cannot specify unit ${JSON.stringify(grantUnit)} in relation to application ${JSON.stringify(app)}`,
    );
  }
  requireManage(ctx, findSecret(ctx, id));
  const copy = ctx.pending.editSecret(id) as Secret;
  const exists = copy.grants.some(
    (grant) => grant.relationId === relation.id && grant.app === app && grant.unit === grantUnit,
  );
  if (!exists)
    copy.grants.push(
      grantUnit === undefined ? { relationId: relation.id, app } : { relationId: relation.id, app, unit: grantUnit },
    );
  return '';
}

export function secretRevoke(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, {
    relation: { short: 'r', long: 'relation', kind: 'value' },
    app: { long: 'app', kind: 'value' },
    unit: { long: 'unit', kind: 'value' },
  });
  const [ref, ...rest] = parsed.positional;
  if (ref === undefined) throw usageError('missing secret URI');
  checkEmpty(rest);
  const id = secretId(ref);
  const { app, unit } = parsed.values;
  const relation = parsed.values['relation'] === undefined ? undefined : relationFlag(ctx, parsed);
  if (relation === undefined && app === undefined && unit === undefined) {
    throw usageError('missing relation or application or unit');
  }
  requireManage(ctx, findSecret(ctx, id));
  const copy = ctx.pending.editSecret(id) as Secret;
  copy.grants = copy.grants.filter((grant) => {
    if (unit !== undefined) return grant.unit !== unit;
    if (app !== undefined) return grant.app !== app;
    return grant.relationId !== relation?.id;
  });
  return '';
}

export function secretRemove(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { revision: { long: 'revision', kind: 'value' } });
  const [ref, ...rest] = parsed.positional;
  if (ref === undefined) throw usageError('missing secret URI');
  checkEmpty(rest);
  const id = secretId(ref);
  const revisionText = parsed.values['revision'];
  const revision = revisionText === undefined ? undefined : Number(revisionText);
  if (revision !== undefined && (!Number.isInteger(revision) || revision < 1)) {
    throw usageError(`invalid value ${JSON.stringify(revisionText)} for option --revision: invalid revision`);
  }
  requireManage(ctx, findSecret(ctx, id));
  if (revision === undefined) {
    ctx.pending.removeSecret(id);
    return '';
  }
  const copy = ctx.pending.editSecret(id) as Secret;
  if (!copy.revisions.some((entry) => entry.revision === revision)) {
    throw runtimeError(`secret revision ${revision} not found`);
  }
  copy.revisions = copy.revisions.filter((entry) => entry.revision !== revision);
  if (copy.revisions.length === 0) ctx.pending.removeSecret(id);
  return '';
}

export function secretIds(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, OUTPUT_FLAGS);
  const format = chosenFormat(parsed);
  checkEmpty(parsed.positional);
  // Committed secrets only: secrets added in this hook are not listed (docs/charm-runtime.md, "Hook tools").
  const ids = Object.values(ctx.model.secrets)
    .filter((secret) => isOwner(ctx, secret))
    .map((secret) => `secret:${secret.id}`)
    .sort();
  return emit(parsed, ids, format);
}

export function secretInfoGet(ctx: ToolContext, args: readonly string[]): string {
  const parsed = parseFlags(args, { ...OUTPUT_FLAGS, label: { long: 'label', kind: 'value' } });
  const format = chosenFormat(parsed, ['yaml', 'json']);
  const [ref, ...rest] = parsed.positional;
  checkEmpty(rest);
  const label = parsed.values['label'];
  if (ref === undefined && label === undefined) throw usageError('require either a secret URI or label');
  let secret: Secret | undefined;
  if (ref !== undefined) secret = findSecret(ctx, secretId(ref));
  else {
    secret = ctx.pending.secrets().find((candidate) => isOwner(ctx, candidate) && candidate.label === label);
    if (secret === undefined) throw runtimeError(`secret with label ${JSON.stringify(label)} not found`);
  }
  if (!isOwner(ctx, secret)) throw runtimeError('permission denied');
  const info: Record<string, unknown> = {
    revision: latest(secret).revision,
    owner: secret.owner.kind === 'application' ? 'application' : 'unit',
  };
  if (secret.label !== undefined) info['label'] = secret.label;
  if (secret.description !== undefined) info['description'] = secret.description;
  if (secret.rotate !== undefined) info['rotation'] = secret.rotate;
  if (secret.expire !== undefined) info['expiry'] = secret.expire;
  return emit(parsed, { [secret.id]: info }, format);
}
