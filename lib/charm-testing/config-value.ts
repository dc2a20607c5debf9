// `juju config app k=v` value parsing by option type (docs/charm-runtime.md, "Charm metadata"),
//   shared by deploy --config, bundle options and the config operation.
import { type ConfigOptionMeta, type ConfigType, type ConfigValue } from './model.js';

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

/** A value already of the option's type, as a charm's default or a Scenario state must be (no parsing). */
export function isConfigValueOfType(type: ConfigType, value: unknown): value is ConfigValue {
  switch (type) {
    case 'string':
    case 'secret':
      return typeof value === 'string';
    case 'int':
      return typeof value === 'number' && Number.isInteger(value);
    case 'float':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
  }
}
