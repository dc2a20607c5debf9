import { describe, expect, test } from '@jest/globals';

import type { ColumnKind } from './original-tables.js';
import { ImportError, originalValue, parseDjangoDatetime } from './values.js';

describe('parseDjangoDatetime', () => {
  test.each([
    // Django on SQLite with USE_TZ: naive text in UTC, microseconds only when non-zero.
    ['2024-12-15 03:12:07.123456', '2024-12-15T03:12:07.123Z'],
    ['2024-12-15 03:12:07', '2024-12-15T03:12:07.000Z'],
    ['2024-12-15 03:12:07.5', '2024-12-15T03:12:07.500Z'],
    ['2024-12-15T03:12:07.999999', '2024-12-15T03:12:07.999Z'],
    // timestamptz printed by PostgreSQL, and other offsets.
    ['2024-12-15 03:12:07.123456+00', '2024-12-15T03:12:07.123Z'],
    ['2024-12-15 04:12:07+01', '2024-12-15T03:12:07.000Z'],
    ['2024-12-14 22:42:07-04:30', '2024-12-15T03:12:07.000Z'],
    ['2024-12-15 03:12:07Z', '2024-12-15T03:12:07.000Z'],
    ['2024-02-29 00:00:00', '2024-02-29T00:00:00.000Z'],
    ['0099-01-01 00:00:00', '0099-01-01T00:00:00.000Z'],
  ])('%s is %s', (text, iso) => {
    expect(parseDjangoDatetime(text)).toBe(Date.parse(iso));
  });

  test.each([
    '',
    '2024-12-15',
    '2024-02-30 00:00:00',
    '2023-02-29 00:00:00',
    '2024-12-15 24:00:00',
    '15/12/2024 03:12',
    'now',
  ])('%j is refused', (text) => {
    expect(parseDjangoDatetime(text)).toBeUndefined();
  });
});

describe('originalValue', () => {
  const at = () => 'turku_api_machine row 1, column x';

  test('reads each kind as the original stores it on either database', () => {
    expect(originalValue('id', '9BEF0A755A9B43F7A66A7E8C6D7AD91D', at)).toBe('9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d');
    expect(originalValue('ref', '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d', at)).toBe(
      '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d',
    );
    expect(originalValue('ref?', null, at)).toBeNull();
    expect(originalValue('bool', 1, at)).toBe(true);
    expect(originalValue('bool', false, at)).toBe(false);
    expect(originalValue('int', 0, at)).toBe(0);
    expect(originalValue('list', '["- a", "+ b"]', at)).toEqual(['- a', '+ b']);
    expect(originalValue('list', '', at)).toEqual([]);
    expect(originalValue('text', 'x', at)).toBe('x');
    expect(originalValue('time', new Date(5), at)).toBe(5);
  });

  const refused: [ColumnKind, unknown, string][] = [
    ['id', 'not-a-uuid', 'turku_api_machine row 1, column x: "not-a-uuid" is not a UUID'],
    ['text', null, "turku_api_machine row 1, column x: NULL where the original's schema requires a value"],
    ['text', 'a\0b', 'turku_api_machine row 1, column x: contains a NUL character'],
    ['bool', 2, 'turku_api_machine row 1, column x: expected a boolean, found 2'],
    ['int', -1, 'turku_api_machine row 1, column x: expected a non-negative integer, found -1'],
    ['list', '{"a": 1}', 'turku_api_machine row 1, column x: "{\\"a\\": 1}" is not a JSON list of strings'],
    ['list', '[1]', 'turku_api_machine row 1, column x: "[1]" is not a JSON list of strings'],
    ['time', 1734232327, 'turku_api_machine row 1, column x: 1734232327 is not a date and time'],
  ];
  test.each(refused)('%s %j is refused', (kind, raw, message) => {
    expect(() => originalValue(kind, raw, at)).toThrow(new ImportError(message));
  });
});
