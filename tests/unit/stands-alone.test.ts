// The repository stands on its own: nothing in it reads or names files beside the clone, and
// comments, tests and docs cite the project's own docs ("docs/<file>.md, "<heading>"") rather
// than numbered sections of documents that are not in the repository. A citation of our docs
// must name a heading (or a bold list item) that exists, so a renamed section is noticed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const thisFile = 'tests/unit/stands-alone.test.ts';

/** Tracked text files, as git lists them (so build output and node_modules never count). */
function trackedTextFiles(): { path: string; text: string }[] {
  const paths = execFileSync('git', ['ls-files', '-z'], { cwd: repoRoot, encoding: 'utf8' })
    .split('\0')
    .filter((path) => path !== '' && path !== thisFile);
  return paths.flatMap((path) => {
    let text: string;
    try {
      text = readFileSync(join(repoRoot, path), 'utf8');
    } catch {
      return []; // deleted in the working tree but not yet in the index
    }
    return text.includes('\0') ? [] : [{ path, text }];
  });
}

/** `file:line: text` for each line matching one of `patterns`. */
function offenders(files: { path: string; text: string }[], patterns: readonly RegExp[]): string[] {
  return files.flatMap(({ path, text }) =>
    text
      .split('\n')
      .flatMap((line, index) =>
        patterns.some((pattern) => pattern.test(line)) ? [`${path}:${index + 1}: ${line.trim()}`] : [],
      ),
  );
}

const files = trackedTextFiles();

test('git lists the repository files', () => {
  expect(files.some(({ path }) => path === 'README.md')).toBe(true);
});

test('no tracked file reads or names a shared directory beside the clone', () => {
  const patterns = [/\.\.\/shared\b/, /\/work\/shared\b/, /['"]shared['"]\s*,\s*['"]spec['"]/];
  expect(offenders(files, patterns)).toEqual([]);
});

test('no tracked file cites numbered sections of an outside spec', () => {
  const section = String.fromCharCode(0xa7); // the section sign, spelled so this file does not match
  const patterns = [
    new RegExp(`${section}\\s*\\d`),
    /\bspec(?:\s+(?:turku|juju))?\s+(?:section\s+)?\d+(?:\.\d+)*\b/i,
    /\bspec (?:turku|juju)\b/i,
    /\bspec fidelity\b/i,
  ];
  expect(offenders(files, patterns)).toEqual([]);
});

/** The headings of a doc, and the bold items (`**A full volume**`) that serve as sub-headings. */
function targets(doc: string): string[] {
  const headings = [...doc.matchAll(/^#+\s+(.+)$/gm)].map((match) => match[1] ?? '');
  const bold = [...doc.matchAll(/^\s*[-*]\s+\*\*([^*]+)\*\*/gm)].map((match) => match[1] ?? '');
  return [...headings, ...bold].map((text) => text.trim());
}

test('every citation of our docs names a section that exists', () => {
  const docs = new Map(
    files.filter(({ path }) => /^docs\/[\w-]+\.md$/.test(path)).map(({ path, text }) => [path, targets(text)]),
  );
  const broken = files.flatMap(({ path, text }) =>
    [...text.matchAll(/\b(docs\/[\w-]+\.md),? "([^"\n]+)"/g)].flatMap(([citation, doc = '', heading = '']) => {
      const headings = docs.get(doc);
      if (headings === undefined) return [`${path}: ${citation} (no such doc)`];
      // A citation may shorten a long heading to its start ("Juju rules the runtime ...").
      return headings.some((target) => target.startsWith(heading)) ? [] : [`${path}: ${citation}`];
    }),
  );
  expect(broken).toEqual([]);
});
