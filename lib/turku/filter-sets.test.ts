import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import { expandFilters, referencesFilterSets } from './filter-sets.js';

/** A lookup over a fixed table of active sets that also records every name it was asked for. */
function lookupOf(sets: Record<string, readonly string[]>): {
  lookup: (name: string) => readonly string[] | undefined;
  asked: string[];
} {
  const asked: string[] = [];
  const lookup = (name: string): readonly string[] | undefined => {
    asked.push(name);
    return Object.hasOwn(sets, name) ? sets[name] : undefined;
  };
  return { lookup, asked };
}

const KEPT_VERBS = [
  'dir-merge',
  ':',
  'clear',
  '!',
  'exclude',
  '-',
  'include',
  '+',
  'hide',
  'H',
  'show',
  'S',
  'protect',
  'P',
  'risk',
  'R',
] as const;

describe('expandFilters', () => {
  it('expands the documented example in place, recursing through nested sets (docs/domain.md, "Filter sets")', () => {
    const { lookup } = lookupOf({ common: ['- *.tmp', '. base'], base: ['+ /etc/', '- *.swp'] });
    expect(expandFilters(['merge common', '- /var/cache/'], lookup)).toEqual({
      filters: ['- *.tmp', '+ /etc/', '- *.swp', '- /var/cache/'],
      warnings: [],
    });
  });

  it('keeps the position of a reference: entries before and after surround the expanded set', () => {
    const { lookup } = lookupOf({ mid: ['+ /b/', '+ /c/'] });
    expect(expandFilters(['+ /a/', '. mid', '- /d/'], lookup).filters).toEqual(['+ /a/', '+ /b/', '+ /c/', '- /d/']);
  });

  it('returns a list without references when nothing refers to a set, and never calls lookup', () => {
    const { lookup, asked } = lookupOf({});
    expect(expandFilters(['- /tmp/', '+ /home/'], lookup)).toEqual({ filters: ['- /tmp/', '+ /home/'], warnings: [] });
    expect(asked).toEqual([]);
  });

  it('an empty filter list expands to an empty list', () => {
    expect(expandFilters([], lookupOf({}).lookup)).toEqual({ filters: [], warnings: [] });
  });

  it('a set that refers to itself terminates and is expanded once', () => {
    const { lookup } = lookupOf({ loop: ['- /a/', 'merge loop', '- /b/'] });
    expect(expandFilters(['merge loop'], lookup)).toEqual({ filters: ['- /a/', '- /b/'], warnings: [] });
  });

  it('a two-set cycle terminates and expands each set once', () => {
    const { lookup } = lookupOf({ a: ['- /a1/', '. b', '- /a2/'], b: ['- /b1/', 'merge a', '- /b2/'] });
    expect(expandFilters(['merge a'], lookup)).toEqual({
      filters: ['- /a1/', '- /b1/', '- /b2/', '- /a2/'],
      warnings: [],
    });
    // Referring to both sets at top level still expands each of them only once.
    expect(expandFilters(['merge a', 'merge b'], lookup).filters).toEqual(['- /a1/', '- /b1/', '- /b2/', '- /a2/']);
  });

  it('a set referenced twice is expanded only the first time', () => {
    const { lookup } = lookupOf({ x: ['- /x/'] });
    expect(expandFilters(['merge x', '- /mid/', '. x'], lookup)).toEqual({
      filters: ['- /x/', '- /mid/'],
      warnings: [],
    });
  });

  it('a set reached through two other sets (a diamond) is expanded once, at its first reference', () => {
    const { lookup } = lookupOf({ left: ['+ /l/', '. shared'], right: ['+ /r/', 'merge shared'], shared: ['- /s/'] });
    expect(expandFilters(['merge left', 'merge right'], lookup).filters).toEqual(['+ /l/', '- /s/', '+ /r/']);
  });

  it('each expansion is independent: a set expanded for one source is expanded again for the next', () => {
    const { lookup } = lookupOf({ x: ['- /x/'] });
    expect(expandFilters(['merge x'], lookup).filters).toEqual(['- /x/']);
    expect(expandFilters(['merge x'], lookup).filters).toEqual(['- /x/']);
  });

  it('a missing (or inactive) set is dropped with a warning naming it; the rest is kept', () => {
    const { lookup } = lookupOf({});
    const result = expandFilters(['- /a/', 'merge nosuch', '- /b/'], lookup);
    expect(result.filters).toEqual(['- /a/', '- /b/']);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('nosuch');
  });

  it('a missing set referenced from inside another set also warns', () => {
    const { lookup } = lookupOf({ outer: ['+ /o/', '. gone'] });
    const result = expandFilters(['merge outer'], lookup);
    expect(result.filters).toEqual(['+ /o/']);
    expect(result.warnings).toHaveLength(1);
    expect(result.warnings[0]).toContain('gone');
  });

  it('the set name is everything after the first space', () => {
    const { lookup, asked } = lookupOf({ 'my set': ['- /m/'] });
    expect(expandFilters(['merge my set'], lookup)).toEqual({ filters: ['- /m/'], warnings: [] });
    expect(asked).toEqual(['my set']);
  });

  it('drops entries without a space except the bare rules "!" and "clear"', () => {
    const { lookup, asked } = lookupOf({ merge: ['- /never/'] });
    expect(expandFilters(['!', 'clear', '-', '+', 'merge', '.', 'exclude', 'dir-merge', '', '-/tmp/'], lookup)).toEqual(
      { filters: ['!', 'clear'], warnings: [] },
    );
    expect(asked).toEqual([]);
  });

  it.each(KEPT_VERBS)('keeps an entry with verb %j verbatim', (verb) => {
    const entry = `${verb} /some path/with  two  spaces/ `;
    expect(expandFilters([entry], lookupOf({}).lookup)).toEqual({ filters: [entry], warnings: [] });
  });

  it('keeps the verbs inside a set verbatim too, and applies the same dropping rules there', () => {
    const { lookup } = lookupOf({ s: ['!', 'hide /h', 'bogus /x', 'P /p', 'nospace', 'dir-merge .rsync-filter'] });
    expect(expandFilters(['. s'], lookup).filters).toEqual(['!', 'hide /h', 'P /p', 'dir-merge .rsync-filter']);
  });

  it('drops unknown verbs (including case variants and rsync verbs not in the list)', () => {
    const dropped = [
      'exclude-from /etc/list',
      'include-from /etc/list',
      'files-from /etc/list',
      'Merge common',
      'MERGE common',
      'h /lower-case-h',
      'p /lower-case-p',
      'Exclude /x',
      '-! /x',
      '+/etc x',
      ' - /leading-space',
    ];
    const { lookup, asked } = lookupOf({ common: ['- /never/'] });
    expect(expandFilters(dropped, lookup)).toEqual({ filters: [], warnings: [] });
    expect(asked).toEqual([]);
  });

  it('does not modify its input', () => {
    const filters = ['merge a', '- /x/'];
    const set = ['+ /y/'];
    expandFilters(filters, lookupOf({ a: set }).lookup);
    expect(filters).toEqual(['merge a', '- /x/']);
    expect(set).toEqual(['+ /y/']);
  });

  it('terminates on any graph of sets, expands each set at most once and leaves no references', () => {
    const names = ['a', 'b', 'c', 'd'];
    const entry = fc.oneof(
      fc.constantFrom(...names).map((name) => `merge ${name}`),
      fc.constantFrom(...names).map((name) => `. ${name}`),
      fc.constantFrom('- /x/', '+ /y/', 'bogus z', '!'),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.constantFrom(...names), fc.array(entry, { maxLength: 6 })),
        fc.array(entry, { maxLength: 6 }),
        (body, top) => {
          // Each set starts with a marker, so how often it was expanded can be read off the output.
          const sets: Record<string, string[]> = {};
          for (const [name, entries] of Object.entries(body)) sets[name] = [`- /marker-${name}/`, ...entries];
          const { filters } = expandFilters(top, lookupOf(sets).lookup);
          for (const name of Object.keys(sets)) {
            expect(filters.filter((f) => f === `- /marker-${name}/`).length).toBeLessThanOrEqual(1);
          }
          for (const f of filters) expect(f.startsWith('merge ') || f.startsWith('. ') || f === 'bogus z').toBe(false);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('referencesFilterSets', () => {
  it('is true when any entry is a "merge" or "." reference', () => {
    expect(referencesFilterSets(['merge common'])).toBe(true);
    expect(referencesFilterSets(['. common'])).toBe(true);
    expect(referencesFilterSets(['- /tmp/', '+ /etc/', '. base'])).toBe(true);
  });

  it('is false for plain lists, empty lists and look-alikes that are not references', () => {
    expect(referencesFilterSets([])).toBe(false);
    expect(referencesFilterSets(['- /tmp/', '+ /etc/', 'dir-merge .rsync-filter', ': .rsync-filter'])).toBe(false);
    expect(referencesFilterSets(['merge', '.', '.hidden', 'merged x', '- merge common'])).toBe(false);
  });
});
