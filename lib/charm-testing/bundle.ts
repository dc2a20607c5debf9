// Juju 3 bundle files (docs/charm-runtime.md, "Bundles and `juju status`"): parsed, merged with
// overlays and checked the way `juju deploy ./bundle.yaml` checks them before it changes anything,
// with Juju's messages. The simulator turns the result into deploy / add-unit / integrate
// operations.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { loadAll } from 'js-yaml';
import * as z from 'zod';

export class BundleError extends Error {
  override name = 'BundleError';
}

export interface BundleApplication {
  name: string;
  /** Local charm path resolved against the bundle's directory, or a Charmhub name as written. */
  charm: string;
  numUnits: number;
  /** One placement per unit (short lists already repeated; empty = every unit on a new machine). */
  to: string[];
  /** The `to:` entries as written (a subordinate must have none). */
  placement: string[];
  options: Record<string, unknown>;
  /** storage name -> "<pool>,<count>,<size>" directive as written. */
  storage: Record<string, string>;
  expose: boolean;
  constraints?: string;
  /** The application's own `base:`, overriding the bundle's `default-base`. */
  base?: string;
}

export interface Bundle {
  description?: string;
  defaultBase?: string;
  applications: Record<string, BundleApplication>;
  machines: Record<string, Record<string, unknown>>;
  /** Pairs of `app` or `app:endpoint`, in file order (overlay relations appended). */
  relations: Array<[string, string]>;
}

const applicationShape = z
  .object({
    charm: z.string(),
    num_units: z.number().int().min(0).optional(),
    scale: z.number().int().min(0).optional(),
    to: z.union([z.array(z.union([z.string(), z.number()])), z.string(), z.number()]).optional(),
    options: z.record(z.string(), z.unknown()).nullish(),
    storage: z.record(z.string(), z.union([z.string(), z.number()])).nullish(),
    expose: z.boolean().optional(),
    constraints: z.string().optional(),
    base: z.string().optional(),
  })
  .passthrough();

const bundleShape = z
  .object({
    description: z.string().optional(),
    'default-base': z.string().optional(),
    series: z.string().optional(),
    applications: z.record(z.string(), applicationShape),
    machines: z.record(z.string(), z.record(z.string(), z.unknown()).nullable()).nullish(),
    relations: z.array(z.array(z.string())).nullish(),
  })
  .passthrough();

type RawDoc = Record<string, unknown>;

function asRecord(value: unknown): RawDoc | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as RawDoc) : undefined;
}

/** Applies one overlay document: relations append, machines replace, a bare application removes it. */
export function mergeOverlay(base: RawDoc, overlay: RawDoc): RawDoc {
  const merged: RawDoc = { ...base, ...overlay };
  const apps: RawDoc = { ...(asRecord(base.applications) ?? {}) };
  for (const [name, value] of Object.entries(asRecord(overlay.applications) ?? {})) {
    const props = asRecord(value);
    if (!props || Object.keys(props).length === 0) {
      delete apps[name];
      continue;
    }
    const previous = asRecord(apps[name]) ?? {};
    const next: RawDoc = { ...previous, ...props };
    // Options and storage merge per key, like Juju's overlay handling.
    for (const key of ['options', 'storage']) {
      if (asRecord(previous[key]) && asRecord(props[key]))
        next[key] = { ...asRecord(previous[key]), ...asRecord(props[key]) };
    }
    apps[name] = next;
  }
  merged.applications = apps;
  merged.machines =
    overlay.machines === undefined
      ? base.machines
      : { ...(asRecord(base.machines) ?? {}), ...(asRecord(overlay.machines) ?? {}) };
  const baseRelations = Array.isArray(base.relations) ? (base.relations as unknown[]) : [];
  const overlayRelations = Array.isArray(overlay.relations) ? (overlay.relations as unknown[]) : [];
  // Relations naming a removed application go with it.
  merged.relations = [...baseRelations, ...overlayRelations].filter(
    (pair) => !Array.isArray(pair) || pair.every((end) => typeof end !== 'string' || end.split(':')[0]! in apps),
  );
  return merged;
}

function loadDocs(text: string): RawDoc[] {
  let docs: unknown[];
  try {
    docs = loadAll(text);
  } catch (err) {
    throw new BundleError(`cannot unmarshal bundle contents: ${(err as Error).message}`);
  }
  return docs
    .filter((doc) => doc !== null && doc !== undefined)
    .map((doc) => {
      const record = asRecord(doc);
      if (!record) throw new BundleError('cannot unmarshal bundle contents: not a map');
      return record;
    });
}

function resolveOption(value: unknown, bundleDir: string): unknown {
  if (typeof value !== 'string') return value;
  const read = (path: string): Buffer => readFileSync(isAbsolute(path) ? path : resolve(bundleDir, path));
  if (value.startsWith('include-file://')) return read(value.slice('include-file://'.length)).toString('utf8');
  if (value.startsWith('include-base64://')) return read(value.slice('include-base64://'.length)).toString('base64');
  return value;
}

const PLACEMENT = /^(new|lxd:new|\d+|lxd:\d+|(?:lxd:)?[a-z][a-z0-9-]*(?:\/\d+)?)$/;

/**
 * Parses a bundle (multi-document text: later documents are overlays) plus separate overlay texts.
 * `bundleDir` is where local charm paths and include-file:// paths are resolved from.
 */
export function parseBundle(text: string, options: { bundleDir?: string; overlays?: readonly string[] } = {}): Bundle {
  const bundleDir = options.bundleDir ?? process.cwd();
  const docs = [...loadDocs(text), ...(options.overlays ?? []).flatMap(loadDocs)];
  const first = docs[0];
  if (!first) throw new BundleError('bundle is empty');
  if ('services' in first)
    throw new BundleError('bundle uses "services:", which Juju 3 no longer accepts: use "applications:"');
  const merged = docs.slice(1).reduce(mergeOverlay, first);
  const parsed = bundleShape.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BundleError(
      `invalid bundle${issue ? ` at ${issue.path.join('.')}` : ''}: ${issue?.message ?? 'unknown error'}`,
    );
  }
  const raw = parsed.data;
  if (raw.series !== undefined && raw['default-base'] !== undefined) {
    throw new BundleError('bundle cannot specify both "series" and "default-base"');
  }
  const machines: Bundle['machines'] = {};
  for (const [id, machine] of Object.entries(raw.machines ?? {})) machines[id] = machine ?? {};
  const referenced = new Set<string>();

  const applications: Record<string, BundleApplication> = {};
  for (const [name, app] of Object.entries(raw.applications)) {
    if (app.num_units !== undefined && app.scale !== undefined) {
      throw new BundleError(`application "${name}" has both "num_units" and "scale" specified`);
    }
    const numUnits = app.num_units ?? app.scale ?? 0;
    const written = app.to === undefined ? [] : (Array.isArray(app.to) ? app.to : [app.to]).map(String);
    if (written.length > numUnits && numUnits > 0) {
      throw new BundleError(`too many units specified in unit placement for application "${name}"`);
    }
    for (const placement of written) {
      if (!PLACEMENT.test(placement)) throw new BundleError(`invalid placement syntax "${placement}"`);
      const target = placement.replace(/^lxd:/, '');
      if (/^\d+$/.test(target)) {
        if (!(target in machines))
          throw new BundleError(`placement "${placement}" refers to a machine not defined in this bundle`);
        referenced.add(target);
      } else if (target !== 'new') {
        const targetApp = target.split('/')[0]!;
        if (!(targetApp in raw.applications)) {
          throw new BundleError(`placement "${placement}" refers to an application not defined in this bundle`);
        }
      }
    }
    const to =
      written.length === 0 ? [] : Array.from({ length: numUnits }, (_, i) => written[Math.min(i, written.length - 1)]!);
    const charm = app.charm.startsWith('.') || app.charm.startsWith('/') ? resolve(bundleDir, app.charm) : app.charm;
    const optionsOut: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(app.options ?? {})) optionsOut[key] = resolveOption(value, bundleDir);
    const storage: Record<string, string> = {};
    for (const [key, value] of Object.entries(app.storage ?? {})) storage[key] = String(value);
    applications[name] = {
      name,
      charm,
      numUnits,
      to,
      placement: written,
      options: optionsOut,
      storage,
      expose: app.expose ?? false,
    };
    if (app.constraints !== undefined) applications[name].constraints = app.constraints;
    if (app.base !== undefined) applications[name].base = app.base;
  }
  for (const id of Object.keys(machines)) {
    if (!referenced.has(id)) throw new BundleError(`machine "${id}" is not referred to by a placement directive`);
  }

  const relations: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const pair of raw.relations ?? []) {
    const label = JSON.stringify(pair);
    if (pair.length !== 2) throw new BundleError(`relation ${label} has ${pair.length} endpoint(s), not 2`);
    const [a, b] = pair as [string, string];
    const appA = a.split(':')[0]!;
    const appB = b.split(':')[0]!;
    for (const app of [appA, appB]) {
      if (!(app in applications))
        throw new BundleError(`relation ${label} refers to application "${app}" not defined in this bundle`);
    }
    if (appA === appB) throw new BundleError(`relation ${label} relates an application to itself`);
    const key = [a, b].sort().join(' ');
    if (seen.has(key)) throw new BundleError(`relation ${label} is defined more than once`);
    seen.add(key);
    relations.push([a, b]);
  }

  const bundle: Bundle = { applications, machines, relations };
  if (raw.description !== undefined) bundle.description = raw.description;
  const base = raw['default-base'] ?? (raw.series !== undefined ? seriesToBase(raw.series) : undefined);
  if (base !== undefined) bundle.defaultBase = base;
  return bundle;
}

function seriesToBase(series: string): string {
  const known: Record<string, string> = { focal: 'ubuntu@20.04', jammy: 'ubuntu@22.04', noble: 'ubuntu@24.04' };
  return known[series] ?? series;
}

/**
 * Refuses subordinate applications given units or placement
 * (docs/charm-runtime.md, "Which hook runs next" and "Bundles and `juju status`").
 */
export function checkBundleSubordinates(bundle: Bundle, isSubordinate: (app: string) => boolean): void {
  for (const app of Object.values(bundle.applications)) {
    if (!isSubordinate(app.name)) continue;
    if (app.numUnits > 0) throw new BundleError(`application "${app.name}" is subordinate but has non-zero num_units`);
    if (app.placement.length > 0) {
      throw new BundleError(`application "${app.name}" is subordinate but specifies unit placement`);
    }
  }
}
