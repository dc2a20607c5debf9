import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hostFilePaths, relayRequestLine, ToolRelay } from './tool-relay.js';

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

describe('a relay closing', () => {
  it('cuts a call under way instead of waiting for it (a hook killed mid-call never ends its own)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tool-relay-'));
    // A tool server that takes the call and never answers.
    const held: Socket[] = [];
    let received!: () => void;
    const gotCall = new Promise<void>((resolve) => (received = resolve));
    const upstream = createServer((socket) => {
      held.push(socket);
      socket.once('data', () => received());
    });
    await new Promise<void>((resolve) => upstream.listen(join(dir, 'tools.sock'), resolve));
    const relay = await ToolRelay.start(join(dir, 'relay.sock'), join(dir, 'tools.sock'), '/');
    const client = connect(join(dir, 'relay.sock'));
    const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.on('error', () => undefined);
    client.write(`${JSON.stringify({ tool: 'status-get', args: [] })}\n`);
    await gotCall;

    const started = Date.now();
    await relay.close();
    await clientClosed;
    expect(Date.now() - started).toBeLessThan(2_000);

    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });
});
