/**
 * FilterSet expansion (docs/domain.md, "Filter sets"): a source's rsync filter list may include
 * named, shared sets with `merge <name>` or `. <name>`. Each set is expanded at most once per
 * source, which also cuts cycles (the original marked a set only after expanding it and recursed
 * until it crashed).
 */

/** Filter verbs rsync understands and the storage passes through as they are. */
const KEPT_VERBS = new Set([
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
]);
const BARE_RULES = new Set(['!', 'clear']);

export interface FilterExpansion {
  readonly filters: string[];
  /** One line per reference to a set that does not exist or is inactive. */
  readonly warnings: string[];
}

/** `lookup` returns the filters of an active set, or undefined when there is no such active set. */
export function expandFilters(
  filters: readonly string[],
  lookup: (name: string) => readonly string[] | undefined,
): FilterExpansion {
  const expanded: string[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();

  const expand = (entries: readonly string[]): void => {
    for (const entry of entries) {
      const space = entry.indexOf(' ');
      if (space < 0) {
        if (BARE_RULES.has(entry)) expanded.push(entry);
        continue;
      }
      const verb = entry.slice(0, space);
      const rest = entry.slice(space + 1);
      if (verb === 'merge' || verb === '.') {
        if (seen.has(rest)) continue;
        const set = lookup(rest);
        if (set === undefined) {
          warnings.push(`filter set "${rest}" does not exist or is inactive`);
          continue;
        }
        seen.add(rest); // before expanding: a set that refers back to itself is cut here
        expand(set);
      } else if (KEPT_VERBS.has(verb)) {
        expanded.push(entry);
      }
    }
  };

  expand(filters);
  return { filters: expanded, warnings };
}

/** Whether a filter list refers to any set, so the API need not load sets for plain lists. */
export function referencesFilterSets(filters: readonly string[]): boolean {
  return filters.some((entry) => entry.startsWith('merge ') || entry.startsWith('. '));
}
