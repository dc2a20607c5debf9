import { createServer, type Server } from 'node:http';

import { z } from 'zod';

import { createApiClient, redactSecrets, replyExcerpt } from './api-client.js';

let server: Server;
let url: string;
const seen: { path: string; type: string | undefined; body: string }[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      seen.push({ path: request.url ?? '', type: request.headers['content-type'], body });
      if (request.url === '/v1/health') return; // never answers
      if (request.url === '/v1/agent_ping_checkin') {
        response.writeHead(403, { 'content-type': 'text/plain' }).end('Bad auth\n');
        return;
      }
      // As the original refuses a method (empty body), and as a proxy's login page might answer.
      if (request.url === '/v1/agent_ping_restore') {
        response.writeHead(405, { 'content-type': 'text/html; charset=utf-8' }).end();
        return;
      }
      if (request.url === '/v1/storage_ping_checkin') {
        response.writeHead(200, { 'content-type': 'text/html' }).end('<html><body><h1>Sign in</h1></body></html>');
        return;
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"machines": {}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

test('posts JSON to <url>/<view> and parses the answer with the schema', async () => {
  const client = createApiClient({ url, timeoutSeconds: 5 });
  const reply = await client.post(
    'storage_update_config',
    { storage: { name: 'x' } },
    z.object({ machines: z.object({}) }),
  );
  expect(reply).toEqual({ machines: {} });
  expect(seen.at(-1)).toEqual({
    path: '/v1/storage_update_config',
    type: 'application/json',
    body: '{"storage":{"name":"x"}}',
  });
});

test('a refusal, a timeout and an unexpected answer are one clear line each', async () => {
  const client = createApiClient({ url, timeoutSeconds: 0.3 });
  await expect(client.post('agent_ping_checkin', {}, z.object({}))).rejects.toThrow(
    'API agent_ping_checkin refused: HTTP 403 Bad auth',
  );
  await expect(client.post('health', {}, z.object({}))).rejects.toThrow(
    `Cannot reach the API at ${url.slice(0, -1)}: no answer within the timeout`,
  );
  await expect(client.post('update_config', {}, z.object({ machine: z.string() }))).rejects.toThrow(
    'API update_config answered unexpectedly: machine:',
  );
});

test('refusals without a text body, and a success that is not JSON, still say what came back', async () => {
  const client = createApiClient({ url, timeoutSeconds: 5 });
  await expect(client.post('agent_ping_restore', {}, z.object({}))).rejects.toThrow(
    new Error('API agent_ping_restore refused: HTTP 405 Method Not Allowed'),
  );
  await expect(client.post('storage_ping_checkin', {}, z.object({}))).rejects.toThrow(
    new Error('API storage_ping_checkin answered with something that is not JSON (text/html): Sign in'),
  );
});

describe('replyExcerpt', () => {
  test("an HTML page gives its visible text without the head: the original's 404 page", () => {
    const page =
      '\n<!doctype html>\n<html lang="en">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n' +
      '  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n';
    expect(replyExcerpt(page)).toBe('Not Found The requested resource was not found on this server.');
  });

  test('plain text gives its first line; control characters and length are tamed', () => {
    expect(replyExcerpt('Bad auth')).toBe('Bad auth');
    expect(replyExcerpt('\n  Validation error: x\nsecond line\n')).toBe('Validation error: x');
    expect(replyExcerpt('a\u001b[31mred\r\n')).toBe('a [31mred');
    expect(replyExcerpt('<p>Tom &amp; Jerry &lt;3</p>')).toBe('Tom & Jerry <3');
    const long = replyExcerpt('x'.repeat(1000));
    expect(long).toHaveLength(300);
    expect(long.endsWith('…')).toBe(true);
    expect(replyExcerpt('')).toBe('');
  });
});

test('debug logs never show secrets', () => {
  expect(
    redactSecrets({
      auth: { name: 'reg', secret: 's1' },
      machine: { uuid: 'u', secret: 's2', password: 'p' },
      list: [{ secret: 's3' }],
    }),
  ).toEqual({
    auth: '<redacted>',
    machine: { uuid: 'u', secret: '<redacted>', password: '<redacted>' },
    list: [{ secret: '<redacted>' }],
  });
});
