import { expect, test } from '@jest/globals';

import { logLinesOf } from './admin-program.js';

test("the program's warnings and errors are picked out of its stderr; its other lines are not", () => {
  const stderr = [
    'turku-storage-admin: warning: Ignoring etc_x: no sidecar',
    '  turku-storage-admin: error: rm: cannot remove etc_y  ',
    'turku-storage-admin: machine "nowhere" has no data on this storage',
    'borg: something else',
    '',
  ].join('\n');
  expect(logLinesOf(stderr)).toEqual([
    { level: 'warning', message: 'Ignoring etc_x: no sidecar' },
    { level: 'error', message: 'rm: cannot remove etc_y' },
  ]);
});
