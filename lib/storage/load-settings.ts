import { DEFAULT_STORAGE_VAR_DIR, loadConfig } from '../common/config-files.js';
import { parseStorageSettings, type StorageSettings } from './settings.js';

export const DEFAULT_STORAGE_CONFIG_DIR = '/etc/turku-storage';

/**
 * Reads and validates `<config_dir>/config.d` over `<var_dir>/config.d`
 * (docs/datapath.md, "Configuration keys").
 */
export async function loadStorageSettings(configDir: string): Promise<StorageSettings> {
  const { config } = await loadConfig(configDir, DEFAULT_STORAGE_VAR_DIR);
  return parseStorageSettings(config);
}
