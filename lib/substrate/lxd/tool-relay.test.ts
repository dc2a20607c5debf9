import { hostFilePaths, relayRequestLine } from './tool-relay.js';

const ROOT = '/var/lib/lxd/storage-pools/turku/containers/m0/rootfs';

describe('the hook tools relay out of an LXD machine', () => {
  it('moves the files a tool reads under the container root, and nothing else', () => {
    expect(hostFilePaths(['--file', '/tmp/s/content', '--label', '/not-a-file'], ROOT)).toEqual([
      '--file',
      `${ROOT}/tmp/s/content`,
      '--label',
      '/not-a-file',
    ]);
    expect(hostFilePaths(['--file', '-'], ROOT)).toEqual(['--file', '-']);
    expect(hostFilePaths(['--file=/a', '--file=-'], ROOT)).toEqual([`--file=${ROOT}/a`, '--file=-']);
    expect(hostFilePaths(['password#file=/run/pw', 'user=x'], ROOT)).toEqual([
      `password#file=${ROOT}/run/pw`,
      'user=x',
    ]);
  });

  it('rewrites a request line and keeps its other fields; passes a malformed line through', () => {
    const line = JSON.stringify({ contextId: 'c1', tool: 'secret-add', args: ['--file', '/tmp/x'], cwd: '/' });
    expect(JSON.parse(relayRequestLine(line, ROOT))).toEqual({
      contextId: 'c1',
      tool: 'secret-add',
      args: ['--file', `${ROOT}/tmp/x`],
      cwd: '/',
    });
    expect(relayRequestLine('{nope', ROOT)).toBe('{nope');
  });
});
