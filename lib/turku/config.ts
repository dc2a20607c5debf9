import { loadAll, YAML11_SCHEMA } from 'js-yaml';

/**
 * Merging of `config.d` and `sources.d` fragments (docs/domain.md, "Config merging"), without
 * touching the disk: the workloads read the files (lib/common/config-files) and hand their text
 * here.
 */

export type ConfigObject = Record<string, unknown>;

export type ConfigFormat = 'json' | 'yaml';

export interface ConfigFile {
  /** Shown in errors; the caller's choice (usually the path). */
  readonly name: string;
  readonly text: string;
  readonly format: ConfigFormat;
}

/**
 * A program's configuration file or directory cannot be read or does not validate; the message
 * names the file and the bad key. (A charm's Juju config has its own: `CharmConfigError`.)
 */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

/** `.json` and `.yaml` (not `.yml`, as the original); undefined for anything else. */
export function configFormatOf(fileName: string): ConfigFormat | undefined {
  if (fileName.endsWith('.json')) return 'json';
  if (fileName.endsWith('.yaml')) return 'yaml';
  return undefined;
}

/** Ascending code-point order of file names (UTF-8 byte order is code-point order). */
export function compareFileNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function isConfigObject(value: unknown): value is ConfigObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/**
 * Parses one fragment. YAML is read as YAML 1.1, as the original's PyYAML reads it (`yes` is
 * true). An empty file is an empty mapping; anything but a mapping at the top is an error.
 */
export function parseConfigFile(file: ConfigFile): ConfigObject {
  let value: unknown;
  try {
    if (file.format === 'json') {
      value = JSON.parse(file.text);
    } else {
      const documents = loadAll(file.text, {
        filename: file.name,
        schema: YAML11_SCHEMA,
      });
      if (documents.length > 1) throw new Error('more than one YAML document');
      value = documents[0] ?? {};
    }
  } catch (error) {
    throw new ConfigFileError(`Error loading ${file.name}: ${firstLine(error)}`);
  }
  if (value === null) return {};
  if (!isConfigObject(value)) {
    throw new ConfigFileError(`Error loading ${file.name}: the top level must be a mapping of keys to values`);
  }
  return value;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n', 1)[0]!.trim();
}

/** Objects merge recursively; scalars and arrays from `overlay` replace those in `base`. */
export function deepMerge(base: ConfigObject, overlay: ConfigObject): ConfigObject {
  const merged: ConfigObject = {};
  for (const [key, value] of Object.entries(base)) define(merged, key, value);
  for (const [key, value] of Object.entries(overlay)) {
    const current = merged[key];
    const next =
      isConfigObject(current) && isConfigObject(value) && Object.hasOwn(merged, key)
        ? deepMerge(current, value)
        : value;
    define(merged, key, next);
  }
  return merged;
}

/** Plain assignment of a key named "__proto__" would replace the object's prototype. */
function define(target: ConfigObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** Merges fragments in ascending file-name order, whatever order they are given in. */
export function mergeConfigFiles(files: readonly ConfigFile[]): ConfigObject {
  return [...files]
    .sort((a, b) => compareFileNames(a.name, b.name))
    .reduce<ConfigObject>((merged, file) => deepMerge(merged, parseConfigFile(file)), {});
}

export interface SourcesResult {
  readonly sources: Record<string, ConfigObject>;
  /** Names of entries dropped for having no `path` (or for not being a mapping). */
  readonly dropped: readonly string[];
}

/** The merged `sources.d` map, keeping only entries that say which directory to back up. */
export function selectSources(merged: ConfigObject): SourcesResult {
  const sources: Record<string, ConfigObject> = {};
  const dropped: string[] = [];
  for (const [name, value] of Object.entries(merged)) {
    if (isConfigObject(value) && value.path !== undefined && value.path !== null && value.path !== '') {
      define(sources, name, value);
    } else {
      dropped.push(name);
    }
  }
  return { sources, dropped };
}
