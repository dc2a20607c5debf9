import { ConfigValueError, parseConfigValue } from './config-value.js';

const opt = (type: 'string' | 'int' | 'float' | 'boolean' | 'secret') => ({ type });

test('[fidelity 44] juju config values are parsed by option type', () => {
  expect(['1', 't', 'T', 'TRUE', 'true', 'True'].map((v) => parseConfigValue('b', opt('boolean'), v))).toEqual(
    Array(6).fill(true),
  );
  expect(['0', 'f', 'F', 'FALSE', 'false', 'False'].map((v) => parseConfigValue('b', opt('boolean'), v))).toEqual(
    Array(6).fill(false),
  );
  expect(() => parseConfigValue('b', opt('boolean'), 'yes')).toThrow(
    new ConfigValueError('option "b" expected boolean, got "yes"'),
  );
  expect(parseConfigValue('i', opt('int'), '-42')).toBe(-42);
  expect(parseConfigValue('i', opt('int'), 7)).toBe(7);
  expect(() => parseConfigValue('i', opt('int'), '1.5')).toThrow(ConfigValueError);
  expect(() => parseConfigValue('i', opt('int'), '9223372036854775808')).toThrow(ConfigValueError);
  expect(parseConfigValue('f', opt('float'), '2.5')).toBe(2.5);
  expect(() => parseConfigValue('f', opt('float'), 'x')).toThrow(ConfigValueError);
  expect(parseConfigValue('s', opt('string'), 5)).toBe('5');
  expect(parseConfigValue('s', opt('secret'), 'secret:abc')).toBe('secret:abc');
});
