// The Juju spec's fidelity checklist (../shared/spec/juju.md, section 8.4) is the contract of
// the fake in lib/charm-testing. Each item is proved by tests tagged "[fidelity N]" in their
// titles; this test keeps the list complete, so an item cannot silently lose its test.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const specPath = join(repoRoot, '..', 'shared', 'spec', 'juju.md');

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : testFiles(path);
    return entry.endsWith('.test.ts') ? [path] : [];
  });
}

/** The item numbers of section 8.4, read from the spec so the count follows it. */
function checklistNumbers(): number[] {
  const spec = readFileSync(specPath, 'utf8');
  const start = spec.indexOf('### 8.4 FIDELITY CHECKLIST');
  const end = spec.indexOf('\n## 9 ', start);
  const section = spec.slice(start, end);
  return [...section.matchAll(/^(\d+)\. /gm)].map((match) => Number(match[1]));
}

/** Test titles only: a tag in a comment or a helper name does not count. */
function taggedNumbers(source: string): number[] {
  const titles = source.matchAll(
    /\b(?:test|it)(?:\.each\([^)]*\))?\(\s*(['"`])((?:(?!\1).)*\[fidelity[^\]]*\](?:(?!\1).)*)\1/g,
  );
  const numbers: number[] = [];
  for (const title of titles) {
    for (const tag of (title[2] ?? '').matchAll(/\[fidelity ([\d, ]+)\]/g)) {
      numbers.push(...(tag[1] ?? '').split(',').map((n) => Number(n.trim())));
    }
  }
  return numbers;
}

describe('the fidelity checklist of the Juju spec', () => {
  const items = checklistNumbers();
  const coverage = new Map<number, string[]>();
  for (const file of [...testFiles(join(repoRoot, 'lib')), ...testFiles(join(repoRoot, 'tests'))]) {
    for (const n of taggedNumbers(readFileSync(file, 'utf8'))) {
      coverage.set(n, [...(coverage.get(n) ?? []), relative(repoRoot, file)]);
    }
  }

  test('the spec lists items 1..N without gaps', () => {
    expect(items.length).toBeGreaterThanOrEqual(60);
    expect(items).toEqual(items.map((_, index) => index + 1));
  });

  test('every item has at least one tagged test', () => {
    const missing = items.filter((n) => !coverage.has(n));
    expect(missing).toEqual([]);
  });

  test('no tag names an item the checklist does not have', () => {
    const unknown = [...coverage.keys()].filter((n) => !items.includes(n));
    expect(unknown).toEqual([]);
  });
});
