import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { createWorkloadLogger } from '../../common/workload-log.js';
import { StorageVerifyReportRequest, VERIFY_REPORT_LIMITS } from '../../turku/protocol/api.js';
import { parseStorageSettings } from '../settings.js';
import type { VerifyOutcome } from '../verify/outcome.js';
import { createVerifyReporter, verifyReportBody } from './report.js';

/** The storage's side of storage_verify_report: a bounded body, and an original API's 404. */

const UUID = '9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d';

const outcome = (problems: number): VerifyOutcome => ({
  source: 'etc',
  snapshot: '2024-01-01T00:00:00',
  checkedFiles: 40,
  checkedBytes: 1234,
  complete: false,
  problems: Array.from({ length: problems }, (_, i) => ({
    path: `${'d/'.repeat(800)}${i}`,
    kind: 'content' as const,
    detail: 'x'.repeat(2000),
  })),
});

test('the body counts every problem, lists the first few, bounded, and validates as the API reads it', () => {
  const body = verifyReportBody({ name: 'primary', secret: 's' }, UUID, outcome(25), new Date(1_700_000_000_000));
  expect(body.verify).toMatchObject({ problem_count: 25, checked_files: 40, checked_bytes: 1234, complete: false });
  expect(body.verify.problems).toHaveLength(VERIFY_REPORT_LIMITS.problems);
  expect(body.verify.problems[0]!.path.length).toBeLessThanOrEqual(VERIFY_REPORT_LIMITS.path);
  expect(body.verify.problems[0]!.detail.length).toBeLessThanOrEqual(VERIFY_REPORT_LIMITS.detail);
  expect(body.verify.time_end).toBe(1_700_000_000);
  expect(StorageVerifyReportRequest.safeParse(body).success).toBe(true);
  expect(
    StorageVerifyReportRequest.safeParse(verifyReportBody({ name: 'p', secret: 's' }, UUID, outcome(0), new Date()))
      .success,
  ).toBe(true);
});

describe('against an API without the view (an original)', () => {
  let server: Server;
  let requests = 0;
  beforeAll(async () => {
    server = createServer((request, response) => {
      requests++;
      request.resume();
      response.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  test('one warning, then no more requests in this run', async () => {
    const lines: string[] = [];
    const log = createWorkloadLogger({ name: 'primary', consoleLevel: 'debug', console: (line) => lines.push(line) });
    const settings = parseStorageSettings({
      name: 'primary',
      secret: 's',
      api_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      volumes: { v: { path: '/nowhere' } },
    });
    const report = createVerifyReporter(settings, log);
    expect(await report(UUID, outcome(1), new Date())).toBe('unsupported');
    expect(await report(UUID, outcome(0), new Date())).toBe('unsupported');
    expect(requests).toBe(1);
    const warnings = lines.filter((line) => line.includes('WARNING'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/WARNING.*no storage_verify_report view \(an original Turku API\?\)/);
  });
});
