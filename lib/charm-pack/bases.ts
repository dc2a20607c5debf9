// The bases (OS release + architectures) a charm runs on, as charmcraft.yaml declares them and as
// manifest.yaml records them for Juju, and Juju's rule for matching them (docs/charm-runtime.md,
// "Bases and platforms").
//
// charmcraft.yaml (charmcraft 3) has two forms:
//   base: ubuntu@24.04            +  platforms: {amd64: , arm64: }        one base, several arches
//   platforms: {"ubuntu@22.04:amd64": , "ubuntu@24.04:amd64": }           multi-base: the base in
//                                                                           each platform, no `base`
// (a platform may also spell out `build-on` / `build-for` lists, whose entries take the same
// `[<base>:]<arch>` form). manifest.yaml lists `bases: [{name, channel, architectures}]`.

export interface CharmBase {
  /** "ubuntu" */
  readonly name: string;
  /** "24.04" */
  readonly channel: string;
  readonly architectures: readonly string[];
}

/** Debian architecture names charmcraft accepts; `all` marks an architecture-independent charm. */
export const ARCHITECTURES: ReadonlySet<string> = new Set([
  'amd64',
  'arm64',
  'armhf',
  'ppc64el',
  'riscv64',
  's390x',
  'all',
]);

type Doc = Record<string, unknown>;

function isMap(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** "ubuntu@24.04" -> {name, channel}; throws naming `what` otherwise. */
export function parseBaseName(text: unknown, what: string): { name: string; channel: string } {
  const match = typeof text === 'string' ? /^([a-z]+)@(\d+\.\d+)$/.exec(text) : null;
  if (!match) throw new Error(`${what} must look like "ubuntu@24.04", got ${JSON.stringify(text)}`);
  return { name: match[1]!, channel: match[2]! };
}

export function baseName(base: Pick<CharmBase, 'name' | 'channel'>): string {
  return `${base.name}@${base.channel}`;
}

/**
 * The run-time bases of a charmcraft.yaml document, in declaration order, each with its
 * architectures. Empty when it declares neither `base` nor `platforms`. Throws one line for a
 * declaration charmcraft would refuse.
 */
export function declaredBases(doc: Doc): CharmBase[] {
  const top = doc.base === undefined ? undefined : parseBaseName(doc.base, 'base');
  if (doc.platforms === undefined || doc.platforms === null) {
    return top === undefined ? [] : [{ ...top, architectures: [] }];
  }
  if (!isMap(doc.platforms) || Object.keys(doc.platforms).length === 0) {
    throw new Error('platforms must map at least one platform name to its build-on/build-for');
  }
  const bases: Array<{ name: string; channel: string; architectures: string[] }> = [];
  for (const [platform, value] of Object.entries(doc.platforms)) {
    let targets: unknown[];
    if (value === null || value === undefined) targets = [platform];
    else if (isMap(value) && Array.isArray(value['build-for']) && Array.isArray(value['build-on'])) {
      targets = value['build-for'];
    } else throw new Error(`platform "${platform}" needs build-on and build-for lists, or no value at all`);
    for (const target of targets) {
      const text = String(target);
      const colon = text.lastIndexOf(':');
      const arch = text.slice(colon + 1);
      const own = colon < 0 ? undefined : parseBaseName(text.slice(0, colon), `platform "${platform}" base`);
      if (own !== undefined && top !== undefined) {
        throw new Error(`platform "${platform}" declares a base and so does the top-level "base": keep one`);
      }
      const base = own ?? top;
      if (base === undefined) throw new Error(`platform "${platform}" names no base and there is no top-level "base"`);
      if (!ARCHITECTURES.has(arch)) throw new Error(`platform "${platform}" has unknown architecture "${arch}"`);
      let entry = bases.find((b) => b.name === base.name && b.channel === base.channel);
      if (entry === undefined) bases.push((entry = { ...base, architectures: [] }));
      if (!entry.architectures.includes(arch)) entry.architectures.push(arch);
    }
  }
  return bases;
}

/** manifest.yaml's `bases:` list, as Juju reads it (name, channel, architectures). */
export function manifestBases(doc: unknown): CharmBase[] {
  const list = isMap(doc) ? doc.bases : undefined;
  if (!Array.isArray(list)) throw new Error('manifest.yaml: bases must be a list');
  return list.map((entry, i) => {
    // Juju's schema takes strings: an unquoted 22.04 would be a YAML number.
    if (!isMap(entry) || typeof entry.name !== 'string' || typeof entry.channel !== 'string') {
      throw new Error(`manifest.yaml: bases[${i}] needs a name and a channel, as strings`);
    }
    const architectures = Array.isArray(entry.architectures) ? entry.architectures.map(String) : [];
    return { name: entry.name, channel: entry.channel, architectures };
  });
}

/** Juju's base compatibility: same OS and same channel track ("22.04" matches "22.04/stable"). */
export function sameBase(a: Pick<CharmBase, 'name' | 'channel'>, b: Pick<CharmBase, 'name' | 'channel'>): boolean {
  return a.name === b.name && a.channel.split('/')[0] === b.channel.split('/')[0];
}

/** Whether two charms share at least one base (what Juju requires of a subordinate and its principal). */
export function shareABase(a: readonly CharmBase[], b: readonly CharmBase[]): boolean {
  return a.some((x) => b.some((y) => sameBase(x, y)));
}
