import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect, it } from '@jest/globals';
import { execa } from 'execa';

import { startApi } from './app.js';
import { memoryLogger } from './logger.js';
import { parseSettings } from './settings.js';

/** With tls_cert and tls_key the API serves HTTPS, and a client that trusts the cert gets answers. */

it('serves /v1 over HTTPS with the configured certificate', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'turku-api-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  const settings = parseSettings({
    listen: '127.0.0.1:0',
    database_path: join(dir, 'api.db'),
    tls_cert: cert,
    tls_key: key,
  });
  const api = await startApi(settings, { log: memoryLogger() });
  try {
    expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1$/);
    const ca = await readFile(cert);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${api.url}/health`, { method: 'GET', ca }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ healthy: true });
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(fetch(`${api.url}/health`)).rejects.toThrow();
  } finally {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);
