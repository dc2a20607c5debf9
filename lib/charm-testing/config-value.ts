// `juju config app k=v` value parsing by option type (docs/charm-runtime.md, "Charm metadata"),
// shared by deploy --config, bundle options and the config operation.
import { type ConfigOptionMeta, type ConfigValue } from './model.js';

// Checking a value already typed (a charm's default, a Scenario state) belongs with the charm's
// declarations; re-exported so the fake's modules find both checks here.
export { isConfigValueOfType } from '../charm-pack/charm-meta.js';

/** A config value Juju refuses for its option type. */
export class ConfigValueError extends Error {
  override name = 'ConfigValueError';
}

const BOOL_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const BOOL_FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

/**
 * A config value as `juju config app k=v` parses it for the option's type
 * (docs/charm-runtime.md, "Charm metadata").
 */
export function parseConfigValue(name: string, option: ConfigOptionMeta, value: ConfigValue): ConfigValue {
  const bad = (): never => {
    throw new ConfigValueError(`option "${name}" expected ${option.type}, got ${JSON.stringify(value)}`);
  };
  switch (option.type) {
    case 'string':
    case 'secret':
      return String(value);
    case 'int': {
      if (typeof value === 'number') return Number.isInteger(value) ? value : bad();
      if (typeof value !== 'string' || !/^[+-]?\d+$/.test(value.trim())) return bad();
      const n = BigInt(value.trim());
      if (n > 9223372036854775807n || n < -9223372036854775808n) return bad();
      return Number(n);
    }
    case 'float': {
      if (typeof value === 'number') return value;
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
      return Number.isFinite(n) ? n : bad();
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && BOOL_TRUE.has(value)) return true;
      if (typeof value === 'string' && BOOL_FALSE.has(value)) return false;
      return bad();
  }
}
