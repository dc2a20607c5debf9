import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import {
  compareFileNames,
  ConfigFileError,
  configFormatOf,
  deepMerge,
  mergeConfigFiles,
  parseConfigFile,
  selectSources,
  type ConfigFile,
  type ConfigFormat,
  type ConfigObject,
} from '../turku/config.js';
import { sourceNameProblem } from '../turku/names.js';

/**
 * Reads the layered configuration of an agent or storage unit from disk (docs/domain.md, "Config merging"):
 *   <config_dir>/config.d/*.json|yaml, merged on top of <var_dir>/config.d/*.json (generated
 *   state), and for agents <config_dir>/sources.d/*.json|yaml.
 */

export const DEFAULT_AGENT_VAR_DIR = '/var/lib/turku-agent';
export const DEFAULT_STORAGE_VAR_DIR = '/var/lib/turku-storage';

export interface LoadedConfig {
  readonly config: ConfigObject;
  readonly warnings: readonly string[];
}

export interface LoadedAgentConfig extends LoadedConfig {
  readonly sources: Record<string, ConfigObject>;
  /** Sources whose names break the source-name rule (lib/turku/names.ts), with the file naming each. */
  readonly unsafeNames: readonly UnsafeSourceName[];
}

export interface UnsafeSourceName {
  readonly name: string;
  /** The first file (in merge order) that declares it. */
  readonly file: string;
  readonly problem: string;
}

/** The regular files of `dir` in one of `formats`, in merge order; none if `dir` is missing. */
export async function readConfigDir(
  dir: string,
  formats: readonly ConfigFormat[],
  warnings: string[],
): Promise<ConfigFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return [];
    throw new ConfigFileError(`Error loading ${dir}: ${describe(error)}`);
  }
  const files: ConfigFile[] = [];
  for (const name of names.sort(compareFileNames)) {
    const format = configFormatOf(name);
    if (format === undefined || !formats.includes(format)) continue;
    const path = join(dir, name);
    try {
      if (!(await stat(path)).isFile()) continue;
      files.push({ name: path, text: await readFile(path, 'utf8'), format });
    } catch (error) {
      // Only regular, readable files count, as in the original; say why one was passed over.
      warnings.push(`Skipping ${path}: ${describe(error)}`);
    }
  }
  return files;
}

/** `/etc` layer over the `var_dir` layer; `var_dir` itself can only be set in `/etc`. */
export async function loadConfig(configDir: string, defaultVarDir: string): Promise<LoadedConfig> {
  const warnings: string[] = [];
  const etc = mergeConfigFiles(await readConfigDir(join(configDir, 'config.d'), ['json', 'yaml'], warnings));
  const varDir = typeof etc.var_dir === 'string' && etc.var_dir !== '' ? etc.var_dir : defaultVarDir;
  const generated = mergeConfigFiles(await readConfigDir(join(varDir, 'config.d'), ['json'], warnings));
  return { config: deepMerge(generated, etc), warnings };
}

export async function loadAgentConfig(configDir: string): Promise<LoadedAgentConfig> {
  const { config, warnings } = await loadConfig(configDir, DEFAULT_AGENT_VAR_DIR);
  const allWarnings = [...warnings];
  const files = await readConfigDir(join(configDir, 'sources.d'), ['json', 'yaml'], allWarnings);
  // Merged one file at a time (readConfigDir gives them in merge order) to know where each name comes from.
  let merged: ConfigObject = {};
  const origins = new Map<string, string>();
  for (const file of files) {
    const parsed = parseConfigFile(file);
    for (const name of Object.keys(parsed)) if (!origins.has(name)) origins.set(name, file.name);
    merged = deepMerge(merged, parsed);
  }
  const { sources, dropped } = selectSources(merged);
  for (const name of dropped) allWarnings.push(`Ignoring source "${name}": it has no "path"`);
  const unsafeNames: UnsafeSourceName[] = [];
  for (const name of Object.keys(sources)) {
    const problem = sourceNameProblem(name);
    if (problem !== undefined) unsafeNames.push({ name, file: origins.get(name) ?? 'sources.d', problem });
  }
  return { config, sources, unsafeNames, warnings: allWarnings };
}

// Duck-typed: errors from Node's own modules may come from another realm (e.g. under jest).
function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}

function describe(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}
