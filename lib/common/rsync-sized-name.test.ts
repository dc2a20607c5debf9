import { sizedFileName } from './rsync-sized-name.js';

test.each([
  ['1024 dir/file', { size: 1024, name: 'dir/file' }],
  ['0 empty', { size: 0, name: 'empty' }],
  ['12 a name with  spaces', { size: 12, name: 'a name with  spaces' }],
  ['5 tab\there', { size: 5, name: 'tab\there' }],
])('a file: %j', (line, expected) => {
  expect(sizedFileName(line)).toEqual(expected);
});

test.each([
  ['a directory', '4096 dir/'],
  ['the tree itself', '4096 ./'],
  ['a symlink', '7 dir/link -> target'],
  ['a hard link to an entry named before', '1024 dir/second => dir/file'],
  ['a name rsync escaped', '3 new\\#012line'],
  ['an rsync message', 'receiving incremental file list'],
  ['a size alone', '1024 '],
  ['the summary', 'sent 1,234 bytes  received 5,678 bytes  1,000.00 bytes/sec'],
])('not a file as named on disk: %s', (_, line) => {
  expect(sizedFileName(line)).toBeNull();
});
