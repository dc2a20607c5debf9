// The fidelity checklist (docs/charm-runtime.md, "The fidelity checklist") is the contract of
// the fake in lib/charm-testing. Each item is proved by tests tagged "[fidelity N]" in their
// titles; this test keeps the list complete, so an item cannot silently lose its test.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const docPath = join(repoRoot, 'docs', 'charm-runtime.md');

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return entry === 'node_modules' ? [] : testFiles(path);
    return entry.endsWith('.test.ts') ? [path] : [];
  });
}

/** The checklist's item numbers, read from the doc so the count follows it. */
function checklistNumbers(): number[] {
  const doc = readFileSync(docPath, 'utf8');
  const start = doc.indexOf('\n### The fidelity checklist\n');
  if (start < 0) throw new Error(`no "### The fidelity checklist" heading in ${docPath}`);
  const next = doc.indexOf('\n#', start + 1);
  const section = doc.slice(start, next < 0 ? undefined : next);
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

describe('the fidelity checklist of docs/charm-runtime.md', () => {
  const items = checklistNumbers();
  const coverage = new Map<number, string[]>();
  for (const file of [...testFiles(join(repoRoot, 'lib')), ...testFiles(join(repoRoot, 'tests'))]) {
    for (const n of taggedNumbers(readFileSync(file, 'utf8'))) {
      coverage.set(n, [...(coverage.get(n) ?? []), relative(repoRoot, file)]);
    }
  }

  test('the doc lists items 1..N without gaps', () => {
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
