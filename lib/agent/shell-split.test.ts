import { describe, expect, it } from '@jest/globals';

import { shellSplit, ShellSplitError } from './shell-split.js';

describe('shellSplit', () => {
  it.each([
    ['check_load -c 1,5,15', ['check_load', '-c', '1,5,15']],
    ['  spaced \t out\n ', ['spaced', 'out']],
    ['', []],
    ["sh -c 'exit 1'", ['sh', '-c', 'exit 1']],
    ['echo "a b" c', ['echo', 'a b', 'c']],
    ['a"b c"d', ['ab cd']],
    ["''", ['']],
    ['x "" y', ['x', '', 'y']],
    ['a\\ b', ['a b']],
    ['\\$HOME $HOME ~ *', ['$HOME', '$HOME', '~', '*']],
    ['"say \\"hi\\" \\\\ \\$x"', ['say "hi" \\ \\$x']],
    ["'single \\ keeps \" all'", ['single \\ keeps " all']],
    ['$(rm -rf /) `id` ; | &&', ['$(rm', '-rf', '/)', '`id`', ';', '|', '&&']],
  ])('splits %j', (text, words) => {
    expect(shellSplit(text)).toEqual(words);
  });

  it.each(['"open', "'open", 'trailing\\'])('rejects %j', (text) => {
    expect(() => shellSplit(text)).toThrow(ShellSplitError);
  });
});
