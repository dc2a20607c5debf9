import { createServer, type Server, type Socket } from 'node:net';

import { openPostgres } from './postgres.js';

/** A TCP server that accepts connections and never answers: a hung or black-holed database. */
async function silentServer(): Promise<{ server: Server; port: number; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

test('a server that accepts and never answers fails the transaction after the connect timeout, naming it', async () => {
  const { server, port, sockets } = await silentServer();
  const db = openPostgres(`postgres://turku:not-this-secret@127.0.0.1:${port}/turku_api`, { connectTimeoutMs: 300 });
  try {
    const started = Date.now();
    const failure = await db
      .transaction(async (tx) => tx.get('SELECT 1'))
      .then(
        () => undefined,
        (error: unknown) => error as Error,
      );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(failure?.message).toMatch(new RegExp(`^Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}: .*timeout`));
    expect(failure?.message).not.toContain('not-this-secret');
    expect(sockets.length).toBeGreaterThan(0);
  } finally {
    await db.close();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('a refused connection fails at once, naming the server', async () => {
  const { server, port } = await silentServer();
  await new Promise((resolve) => server.close(resolve));
  const db = openPostgres(`postgres://turku@127.0.0.1:${port}/turku_api`);
  try {
    await expect(db.transaction(async (tx) => tx.get('SELECT 1'))).rejects.toThrow(
      new RegExp(`^Cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED`),
    );
  } finally {
    await db.close();
  }
});
