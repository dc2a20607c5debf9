import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * The turku-api benchmark's reference: a bare Node `http` server answering every request with the
 * same small JSON, the ceiling an HTTP API on this Node and this machine could reach. It runs as a
 * process of its own, with the same Node binary, flags and environment as the API
 * (`node bare-server.js`), reads a request's body when it has one (so a POST costs it what it costs
 * any server), and says `bare server listening on http://HOST:PORT` on stderr, as turku-api does.
 */

export const BARE_ANSWER = JSON.stringify({ healthy: true, date: '2026-01-01T00:00:00.000000+00:00' });
export const BARE_LISTENING = /bare server listening on (\S+)/;

function answer(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(BARE_ANSWER) });
    response.end(BARE_ANSWER);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = createServer(answer);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('bare server: no TCP address');
    process.stderr.write(`bare server listening on http://127.0.0.1:${address.port}\n`);
  });
  process.once('SIGTERM', () => process.exit(0));
}
