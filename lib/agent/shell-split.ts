/**
 * Splits a command line into words as a POSIX shell would, but without any expansion: no variables,
 * globs, tildes or command substitution, and no shell is ever run
 * (docs/datapath.md, "A backup, step by step" step 1: the go/no-go program given as a string). The
 * rules are those of Python's `shlex.split`:
 *   - unquoted blanks separate words; a backslash keeps the next character literally;
 *   - '…' keeps everything literally;
 *   - "…" keeps everything literally except that `\"` and `\\` stand for `"` and `\`;
 *   - quotes may be glued to other text (`a"b c"d` is one word), and `''` is an empty word.
 */

export class ShellSplitError extends Error {
  override name = 'ShellSplitError';
}

const BLANK = /[ \t\r\n]/;

export function shellSplit(text: string): string[] {
  const words: string[] = [];
  let word = '';
  /** Whether a word has started: `''` makes an empty word, blanks alone make none. */
  let inWord = false;
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    if (BLANK.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (char === '\\') {
      if (i + 1 >= text.length) throw new ShellSplitError('No escaped character after the final backslash');
      word += text[i + 1];
      inWord = true;
      i += 2;
    } else if (char === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new ShellSplitError('No closing quotation');
      word += text.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (char === '"') {
      i++;
      for (;;) {
        if (i >= text.length) throw new ShellSplitError('No closing quotation');
        const inner = text[i]!;
        if (inner === '"') break;
        if (inner === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
          word += text[i + 1];
          i += 2;
        } else {
          word += inner;
          i++;
        }
      }
      inWord = true;
      i++;
    } else {
      word += char;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}
