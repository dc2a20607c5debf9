import {
  compareFileNames,
  ConfigFileError,
  deepMerge,
  mergeConfigFiles,
  parseConfigFile,
  selectSources,
  type ConfigFile,
} from './config.js';

const json = (name: string, value: unknown): ConfigFile => ({ name, text: JSON.stringify(value), format: 'json' });
const yaml = (name: string, text: string): ConfigFile => ({ name, text, format: 'yaml' });

describe('deepMerge', () => {
  test('objects merge recursively; scalars and arrays from the overlay replace', () => {
    const base = { a: 1, nested: { x: 1, list: [1, 2], deeper: { keep: true } }, list: ['a'] };
    const overlay = { b: 2, nested: { y: 2, list: [3], deeper: { add: 1 } }, list: ['b'] };
    expect(deepMerge(base, overlay)).toEqual({
      a: 1,
      b: 2,
      nested: { x: 1, y: 2, list: [3], deeper: { keep: true, add: 1 } },
      list: ['b'],
    });
  });

  test('an object replaces a scalar and the other way round; null replaces too', () => {
    expect(deepMerge({ a: 1, b: { x: 1 }, c: { y: 1 } }, { a: { z: 1 }, b: 2, c: null })).toEqual({
      a: { z: 1 },
      b: 2,
      c: null,
    });
  });

  test('leaves its inputs alone', () => {
    const base = { nested: { x: 1 } };
    deepMerge(base, { nested: { y: 2 } });
    expect(base).toEqual({ nested: { x: 1 } });
  });

  test('a "__proto__" key is data, not a prototype change', () => {
    const merged = deepMerge({}, JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(Object.keys(merged)).toEqual(['__proto__']);
  });
});

describe('parseConfigFile', () => {
  test('JSON and YAML; YAML read as YAML 1.1, as PyYAML reads it', () => {
    expect(parseConfigFile(json('a.json', { api_url: 'https://x/v1' }))).toEqual({ api_url: 'https://x/v1' });
    expect(parseConfigFile(yaml('a.yaml', 'etc:\n  path: /etc\n  preserve_hard_links: yes\n'))).toEqual({
      etc: { path: '/etc', preserve_hard_links: true },
    });
  });

  test('an empty or comment-only YAML file is an empty mapping', () => {
    expect(parseConfigFile(yaml('e.yaml', ''))).toEqual({});
    expect(parseConfigFile(yaml('e.yaml', '# nothing yet\n'))).toEqual({});
    expect(parseConfigFile(yaml('e.yaml', '~\n'))).toEqual({});
  });

  test.each([
    [json('bad.json', 1), 'Error loading bad.json: the top level must be a mapping of keys to values'],
    [{ name: '/etc/t/x.json', text: '{"a": 1,}', format: 'json' as const }, /^Error loading \/etc\/t\/x\.json: .*JSON/],
    [yaml('/etc/t/y.yaml', 'a: [1, 2\n'), /^Error loading \/etc\/t\/y\.yaml: \S/],
    [yaml('dup.yaml', 'a: 1\na: 2\n'), /^Error loading dup\.yaml: duplicated mapping key/],
    [yaml('list.yaml', '- a\n- b\n'), 'Error loading list.yaml: the top level must be a mapping of keys to values'],
    [yaml('two.yaml', 'a: 1\n---\nb: 2\n'), 'Error loading two.yaml: more than one YAML document'],
  ])('errors name the file and the problem, on one line (%#)', (file, message) => {
    expect(() => parseConfigFile(file)).toThrow(ConfigFileError);
    try {
      parseConfigFile(file);
    } catch (error) {
      const text = (error as Error).message;
      expect(text).not.toContain('\n');
      if (typeof message === 'string') expect(text).toBe(message);
      else expect(text).toMatch(message);
    }
  });
});

describe('mergeConfigFiles', () => {
  test('merges in ascending code-point order of file name, whatever the given order', () => {
    const files = [
      json('b.json', { order: 'b', b: 1 }),
      yaml('A.yaml', 'order: A\nA: 1\n'),
      json('10-first.json', { order: '10', nested: { from: '10' } }),
      json('20-second.json', { nested: { from: '20' } }),
    ];
    expect(mergeConfigFiles(files)).toEqual({ order: 'b', A: 1, b: 1, nested: { from: '20' } });
  });

  test('code-point order, not UTF-16 order, for names beyond the BMP', () => {
    // U+FF5E sorts after U+1F600 in UTF-16 code units but before it in code points.
    expect(['\u{1F600}.json', '\uFF5E.json'].sort(compareFileNames)).toEqual(['\uFF5E.json', '\u{1F600}.json']);
  });
});

describe('selectSources', () => {
  test('drops entries without a path', () => {
    const merged = { etc: { path: '/etc' }, half: { frequency: 'daily' }, empty: { path: '' }, odd: 'x' };
    expect(selectSources(merged)).toEqual({ sources: { etc: { path: '/etc' } }, dropped: ['half', 'empty', 'odd'] });
  });
});
