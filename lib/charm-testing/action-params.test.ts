import { ActionParamsError, coerceCliValue, parseCliParams, validateActionParams } from './action-params.js';
import { parseCharmMeta } from '../charm-pack/charm-meta.js';

const meta = parseCharmMeta(`
name: api
summary: s
description: d
actions:
  backup-now:
    params:
      tag: {type: string}
      retries: {type: integer, default: 3, minimum: 0}
      force: {type: boolean}
      target:
        type: object
        properties:
          host: {type: string}
          port: {type: integer, default: 22}
    required: [tag]
  strict:
    params:
      tag: {type: string}
    additionalProperties: false
`);
const backupNow = meta.actions['backup-now']!;
const strict = meta.actions['strict']!;

describe('CLI params', () => {
  test('[fidelity 51] values are YAML 1.1-coerced: y/yes/on -> true, numbers -> numbers', () => {
    expect(['y', 'yes', 'on', 'true', 'no', 'off', '007', '1.5', 'plain', ''].map((v) => coerceCliValue(v))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      7,
      1.5,
      'plain',
      '',
    ]);
  });

  test('[fidelity 51] --string-args keeps every value a string', () => {
    expect(parseCliParams(['force=yes', 'retries=007'], { stringArgs: true })).toEqual({
      force: 'yes',
      retries: '007',
    });
  });

  test('[fidelity 50] dotted keys nest; malformed arguments are refused', () => {
    expect(parseCliParams(['tag=x', 'target.host=h', 'target.port=2222'])).toEqual({
      tag: 'x',
      target: { host: 'h', port: 2222 },
    });
    expect(() => parseCliParams(['novalue'])).toThrow(ActionParamsError);
    expect(() => parseCliParams(['a..b=1'])).toThrow(ActionParamsError);
  });
});

describe('validateActionParams', () => {
  test('[fidelity 50] schema defaults are inserted (nested too) without touching the input', () => {
    const input = { tag: 'x', target: { host: 'h' } };
    expect(validateActionParams('backup-now', backupNow, input)).toEqual({
      tag: 'x',
      retries: 3,
      target: { host: 'h', port: 22 },
    });
    expect(input).toEqual({ tag: 'x', target: { host: 'h' } });
  });

  test('[fidelity 50] missing required, wrong types and bounds fail before any task', () => {
    expect(() => validateActionParams('backup-now', backupNow, {})).toThrow(
      /validation failed: \(root\) : must have required property 'tag'/,
    );
    expect(() => validateActionParams('backup-now', backupNow, { tag: 'x', retries: -1 })).toThrow(/retries/);
    expect(() => validateActionParams('backup-now', backupNow, parseCliParams(['tag=x', 'force=maybe']))).toThrow(
      /force : must be boolean/,
    );
    expect(validateActionParams('backup-now', backupNow, parseCliParams(['tag=x', 'force=on']))).toMatchObject({
      force: true,
    });
  });

  test('[fidelity 50] additionalProperties follows the declaration (Juju 3 default: allowed)', () => {
    expect(validateActionParams('backup-now', backupNow, { tag: 'x', other: 1 })).toMatchObject({ other: 1 });
    expect(() => validateActionParams('strict', strict, { tag: 'x', other: 1 })).toThrow(
      'additional property "other" is not allowed',
    );
  });
});
