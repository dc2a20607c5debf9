import {
  ShapeError,
  asArrayOf,
  asBoolean,
  asNumber,
  asRecord,
  asRecordOf,
  asString,
  asStringList,
  asStringMap,
  kindOf,
  optional,
  pathOf,
  withDefault,
} from './json-shapes.js';

/** The ShapeError `parse` throws (fails the test when it does not throw one). */
function shapeError(parse: () => unknown): ShapeError {
  try {
    parse();
  } catch (error) {
    if (error instanceof ShapeError) return error;
    throw error;
  }
  throw new Error('expected a ShapeError');
}

describe('scalars', () => {
  test('each accepts its own type and returns it unchanged', () => {
    expect(asString('')).toBe('');
    expect(asNumber(0)).toBe(0);
    expect(asBoolean(false)).toBe(false);
  });

  test('a wrong type names the path, the expected kind and the kind found (never the value)', () => {
    expect(() => asString(7, 'units.api/0.status')).toThrow(
      new ShapeError('units.api/0.status', 'a string', 'a number'),
    );
    expect(shapeError(() => asNumber('hunter2', 'token')).message).toBe('token: expected a number, got a string');
    expect(shapeError(() => asBoolean('true')).message).toBe('(root): expected a boolean, got a string');
    expect(shapeError(() => asNumber('1', 'revision')).message).toBe('revision: expected a number, got a string');
  });

  test('numbers must be finite', () => {
    expect(() => asNumber(Number.NaN)).toThrow('expected a number');
    expect(() => asNumber(Infinity)).toThrow('expected a number');
  });
});

describe('kindOf and pathOf', () => {
  test.each([
    [undefined, 'nothing'],
    [null, 'null'],
    [[], 'an array'],
    [{}, 'an object'],
    ['x', 'a string'],
    [1, 'a number'],
    [true, 'a boolean'],
  ])('kindOf(%p) is %p', (value, kind) => {
    expect(kindOf(value)).toBe(kind);
  });

  test('paths are dotted, array indexes included; the root is empty', () => {
    expect(pathOf('', 'units')).toBe('units');
    expect(pathOf('units', 'api/0')).toBe('units.api/0');
    expect(pathOf('addresses', 0)).toBe('addresses.0');
  });
});

describe('containers', () => {
  test('asRecord accepts objects only (not null, not arrays)', () => {
    const value = { a: 1 };
    expect(asRecord(value)).toBe(value);
    expect(shapeError(() => asRecord(null)).message).toBe('(root): expected an object, got null');
    expect(shapeError(() => asRecord([], 'status-data')).message).toBe('status-data: expected an object, got an array');
  });

  test('asStringList: a list of strings; a bad item is named by index', () => {
    expect(asStringList(['a', 'b'])).toEqual(['a', 'b']);
    expect(asStringList([])).toEqual([]);
    expect(shapeError(() => asStringList(['a', 2])).message).toBe('1: expected a string, got a number');
    expect(shapeError(() => asStringList(null)).message).toBe('(root): expected an array, got null');
  });

  test('asStringMap: a fresh map of strings; a bad value is named by key', () => {
    const input = { a: 'x', 'b-c': '' };
    const output = asStringMap(input);
    expect(output).toEqual(input);
    expect(output).not.toBe(input);
    expect(shapeError(() => asStringMap({ a: 'x', token: 5 }, 'bag')).message).toBe(
      'bag.token: expected a string, got a number',
    );
    expect(() => asStringMap('x')).toThrow('expected an object');
  });

  test('a "__proto__" key from JSON stays an ordinary key', () => {
    const output = asStringMap(JSON.parse('{"__proto__": "x"}'));
    expect(Object.getPrototypeOf(output)).toBe(Object.prototype);
    expect(Object.keys(output)).toEqual(['__proto__']);
  });

  test('asArrayOf and asRecordOf nest, and the error path follows the nesting', () => {
    const grid = (value: unknown) => asRecordOf(value, '', (row, at) => asArrayOf(row, at, asNumber));
    expect(grid({ a: [1, 2], b: [] })).toEqual({ a: [1, 2], b: [] });
    expect(shapeError(() => grid({ a: [1, 'two'] })).message).toBe('a.1: expected a number, got a string');
  });
});

describe('absent values', () => {
  test('optional: undefined stays undefined, null is a value (and checked)', () => {
    expect(optional(undefined, 'label', asString)).toBeUndefined();
    expect(optional('x', 'label', asString)).toBe('x');
    expect(shapeError(() => optional(null, 'label', asString)).message).toBe('label: expected a string, got null');
  });

  test('withDefault: undefined becomes the fallback, anything else is checked', () => {
    expect(withDefault(undefined, 'subnets', asStringList, [])).toEqual([]);
    expect(withDefault(['10.0.0.0/24'], 'subnets', asStringList, [])).toEqual(['10.0.0.0/24']);
    expect(() => withDefault(null, 'subnets', asStringList, [])).toThrow('subnets: expected an array, got null');
  });
});
