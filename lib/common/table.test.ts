import { describe, expect, it } from '@jest/globals';

import { renderCell, renderTable } from './table.js';

describe('renderCell', () => {
  it('shows booleans as yes/no and null as "-"', () => {
    expect(renderCell(true)).toBe('yes');
    expect(renderCell(false)).toBe('no');
    expect(renderCell(null)).toBe('-');
  });

  it('shows numbers as they are, 0 included', () => {
    expect(renderCell(0)).toBe('0');
    expect(renderCell(42)).toBe('42');
    expect(renderCell(-1.5)).toBe('-1.5');
  });

  it('joins arrays with commas; an empty array is "-"', () => {
    expect(renderCell(['a', 'b', 'c'])).toBe('a,b,c');
    expect(renderCell(['only'])).toBe('only');
    expect(renderCell([])).toBe('-');
  });

  it('passes plain strings through, the empty string included', () => {
    expect(renderCell('primary storage')).toBe('primary storage');
    expect(renderCell('')).toBe('');
  });

  it('escapes control characters as \\xNN', () => {
    expect(renderCell('a\nb')).toBe('a\\x0ab');
    expect(renderCell('tab\there')).toBe('tab\\x09here');
    expect(renderCell('\r\x00')).toBe('\\x0d\\x00');
    expect(renderCell('\x1b[31mred')).toBe('\\x1b[31mred');
    expect(renderCell('del\x7f')).toBe('del\\x7f');
    expect(renderCell('\x1f')).toBe('\\x1f');
    expect(renderCell(['a\nb', 'c'])).toBe('a\\x0ab,c');
  });

  it('leaves printable non-ASCII alone', () => {
    expect(renderCell('Turku – Åbo ✓')).toBe('Turku – Åbo ✓');
  });
});

describe('renderTable', () => {
  it('prints "(none)" for no rows, with or without columns', () => {
    expect(renderTable([])).toEqual(['(none)']);
    expect(renderTable([], ['name', 'active'])).toEqual(['(none)']);
  });

  it('uppercases headers and pads every column but the last to its widest cell, two spaces apart', () => {
    const lines = renderTable([
      { name: 'a', size: 10, active: true },
      { name: 'longer', size: 5, active: false },
    ]);
    expect(lines).toEqual(['NAME    SIZE  ACTIVE', 'a       10    yes', 'longer  5     no']);
  });

  it('widens a column to its header when the header is the widest', () => {
    expect(renderTable([{ date_checked_in: null, x: 1 }])).toEqual(['DATE_CHECKED_IN  X', '-                1']);
  });

  it('lines up column starts across rows', () => {
    const lines = renderTable([
      { a: 'x', b: 'yyyy', c: 'z' },
      { a: 'xxxxxx', b: 'y', c: 'zz' },
    ]);
    const starts = (line: string, value: string, from = 0) => line.indexOf(value, from);
    expect(starts(lines[0]!, 'B')).toBe(starts(lines[1]!, 'yyyy'));
    expect(starts(lines[0]!, 'B')).toBe(starts(lines[2]!, 'y', 6));
    expect(starts(lines[0]!, 'C')).toBe(starts(lines[1]!, 'z'));
    expect(starts(lines[0]!, 'C')).toBe(starts(lines[2]!, 'zz'));
  });

  it('does not leave trailing spaces when the last cells are short or empty', () => {
    const lines = renderTable([
      { name: 'a', comment: 'a long comment' },
      { name: 'b', comment: '' },
    ]);
    expect(lines).toEqual(['NAME  COMMENT', 'a     a long comment', 'b']);
    for (const line of lines) expect(line).toBe(line.trimEnd());
  });

  it('renders booleans, nulls, arrays and missing keys inside a table', () => {
    const rows = [
      { name: 'web', keys: ['k1', 'k2'], published: true, comment: null },
      { name: 'db', keys: [], published: false },
    ];
    expect(renderTable(rows)).toEqual([
      'NAME  KEYS   PUBLISHED  COMMENT',
      'web   k1,k2  yes        -',
      'db    -      no         -',
    ]);
  });

  it('escapes control characters so a cell cannot break the layout', () => {
    const lines = renderTable([{ name: 'evil\nname', n: 1 }]);
    expect(lines).toHaveLength(2);
    expect(lines).toEqual(['NAME          N', 'evil\\x0aname  1']);
  });

  it('uses explicit columns in the order given, dropping other keys and showing absent ones as "-"', () => {
    const rows = [{ a: 1, b: 2, c: 3 }];
    expect(renderTable(rows, ['c', 'a'])).toEqual(['C  A', '3  1']);
    expect(renderTable(rows, ['b', 'missing'])).toEqual(['B  MISSING', '2  -']);
  });

  it('takes the default columns from the first row, in its key order', () => {
    expect(
      renderTable([
        { z: 1, y: 2 },
        { y: 3, z: 4, extra: 5 },
      ]),
    ).toEqual(['Z  Y', '1  2', '4  3']);
  });
});
