// turku-local's commands against a stand-in controller on a real socket: the requests each
// command sends and the Juju-shaped output it prints.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseJujuStatus } from '../juju-status.js';
import { Cli, parseDuration } from './cli.js';
import type { LocalController } from './controller.js';
import { controllerFiles, type ParsedRequest, parseRequest } from './controller-protocol.js';
import { type ControllerServer, serveController } from './controller-server.js';

const STATUS = JSON.parse(
  readFileSync(new URL('../testdata/status-3.6-bundle.json', import.meta.url), 'utf8'),
) as Record<string, unknown>;

const TASK = {
  id: '7',
  unit: 'turku-agent/1',
  name: 'restore',
  params: {},
  status: 'completed',
  message: '',
  results: { 'return-code': 0, source: 'data', snapshot: 'data_1', output: 'Totals: 3 files' },
  log: [],
};

let base: string;
let server: ControllerServer;
const seen: ParsedRequest[] = [];
let answer: (request: ParsedRequest) => unknown = () => ({});

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const runner = new Cli({ out: (text) => (out += text), err: (text) => (err += text), stdoutIsTty: false });
  try {
    const code = await runner.run(['--base-dir', base, '-m', 'fake', ...argv]);
    return { code, out, err };
  } catch (error) {
    return { code: 1, out, err: err + String((error as Error).message) };
  }
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'turku-local-cli-'));
  await mkdir(join(base, 'fake'));
  const fake = { handle: (request: ParsedRequest) => (seen.push(request), Promise.resolve(answer(request))) };
  server = await serveController(fake as unknown as LocalController, controllerFiles(join(base, 'fake')).socket);
});

afterAll(async () => {
  await server.close();
  await rm(base, { recursive: true, force: true });
});

describe('turku-local', () => {
  it('status --format json prints the JSON juju-status.ts reads; the table has the units', async () => {
    answer = () => STATUS;
    const json = await cli('status', '--format', 'json');
    expect(JSON.parse(json.out)).toEqual(STATUS);
    expect(Object.keys(parseJujuStatus(JSON.parse(json.out)).units).length).toBeGreaterThan(0);
    const table = await cli('status');
    expect(table.out).toMatch(/^Model\s+Controller/);
    expect(table.out).toMatch(/\nUnit\s+Workload\s+Agent\s+Machine\s+Public address/);
    for (const unit of Object.keys(parseJujuStatus(STATUS).units)) expect(table.out).toContain(unit);
  });

  it('run sends key=value as typed and prints Juju 3 plain output; --format json is keyed by unit', async () => {
    answer = () => TASK;
    const plain = await cli('run', 'turku-agent/1', 'restore', 'source=data', 'target=/var/restore/x', '--wait', '5m');
    expect(seen.at(-1)).toMatchObject({
      op: 'run',
      unit: 'turku-agent/1',
      action: 'restore',
      args: ['source=data', 'target=/var/restore/x'],
    });
    expect(plain.code).toBe(0);
    expect(plain.err).toBe(
      'Running operation 7 with 1 task\n  - task 7 on unit-turku-agent-1\n\nWaiting for task 7...\n',
    );
    expect(plain.out).toBe("source: data\nsnapshot: data_1\noutput: 'Totals: 3 files'\n");
    const json = await cli('run', 'turku-agent/1', 'restore', '--format', 'json', '--wait');
    expect(JSON.parse(json.out)).toEqual({
      'turku-agent/1': { id: '7', results: TASK.results, status: 'completed', unit: 'turku-agent/1' },
    });
  });

  it('a failed task prints its message and exits 1', async () => {
    answer = () => ({ ...TASK, status: 'failed', message: 'no such source', results: { 'return-code': 0 } });
    const failed = await cli('run', 'turku-agent/1', 'restore', 'source=nope');
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(/^Action id 7 failed: no such source\n/);
  });

  it("the controller's refusal is the error; other commands send what Juju's would", async () => {
    answer = () => {
      throw new Error('unit "x/9" not found');
    };
    expect(await cli('remove-unit', 'x/9', '--no-prompt')).toMatchObject({ code: 1, err: 'unit "x/9" not found' });
    answer = () => ({ units: ['turku-storage/2'] });
    await cli('add-unit', 'turku-storage', '-n', '2');
    expect(seen.at(-1)).toEqual({ op: 'add-unit', app: 'turku-storage', count: 2 });
    await cli('remove-relation', 'turku-agent:backup-sources', 'sample:backup-sources');
    expect(seen.at(-1)).toEqual({ op: 'remove-relation', a: 'turku-agent:backup-sources', b: 'sample:backup-sources' });
    answer = () => ({ exitCode: 3, stdout: 'out\n', stderr: '' });
    const exec = await cli('exec', '--unit', 'sample/0', '--', 'ls', '-l', '/srv');
    expect(seen.at(-1)).toEqual({ op: 'exec', unit: 'sample/0', argv: ['bash', '-c', 'ls -l /srv'] });
    expect([exec.code, exec.out]).toEqual([3, 'out\n']);
  });

  it('an unknown command or flag is an error', async () => {
    expect((await cli('launch')).err).toMatch(/unrecognized command/);
    expect((await cli('status', '--colour')).err).toMatch(/Unknown option '--colour'/);
  });
});

describe('the protocol', () => {
  it('says which field of a request is wrong', () => {
    expect(parseRequest('{"op":"add-unit","app":"a","count":0}')).toEqual({
      error: expect.stringMatching(/^bad request at count: /),
    });
    expect(parseRequest('nope')).toEqual({ error: 'bad request: not JSON' });
    expect(parseRequest('{"op":"add-unit","app":"a"}')).toEqual({ request: { op: 'add-unit', app: 'a', count: 1 } });
  });

  it('reads durations as juju run --wait does', () => {
    expect([parseDuration('5m'), parseDuration('30s'), parseDuration('2'), parseDuration(undefined)]).toEqual([
      300_000, 30_000, 2_000, 0,
    ]);
    expect(() => parseDuration('soon')).toThrow('invalid duration "soon"');
  });
});
