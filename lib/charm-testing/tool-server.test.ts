import { jest } from '@jest/globals';
import { execa } from 'execa';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HookToolRunner, type ToolResult } from '../charm/runner.js';
import { addApplication, fixtureModel, relate, writeShellDispatch } from './fixtures.js';
import { runEvent } from './session.js';
import { HOOK_TOOL_NAMES, ToolServer, hookToolShimPath } from './tool-server.js';

jest.setTimeout(60_000);

interface Call {
  tool: string;
  args: readonly string[];
  stdin: string | undefined;
}

/** A stand-in runner: the server's job is transport, so it only records and answers. */
function recordingRunner(answer: (call: Call) => ToolResult): { runner: HookToolRunner; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    runner: {
      run(tool, args, stdin) {
        const call = { tool, args: [...args], stdin };
        calls.push(call);
        return Promise.resolve(answer(call));
      },
    },
  };
}

let server: ToolServer;
beforeAll(async () => {
  server = await ToolServer.start();
});
afterAll(async () => {
  await server.close();
});

/** Runs `body` with `runner` registered as hook context `id`, unregistering it afterwards. */
async function withContext(id: string, runner: HookToolRunner, body: () => Promise<void>): Promise<void> {
  server.register(id, runner);
  try {
    await body();
  } finally {
    server.unregister(id);
  }
}

function tool(name: string, args: string[], contextId: string, options: { input?: string; cwd?: string } = {}) {
  return execa(join(server.toolsDir, name), args, {
    env: server.environment(contextId),
    reject: false,
    ...(options.input === undefined ? { stdin: 'ignore' as const } : { input: options.input }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
}

test('toolsDir holds one executable per hook tool name; the base dir is private', async () => {
  expect((await readdir(server.toolsDir)).sort()).toEqual([...HOOK_TOOL_NAMES].sort());
  for (const name of HOOK_TOOL_NAMES) expect((await stat(join(server.toolsDir, name))).mode & 0o111).toBe(0o111);
  expect((await stat(join(server.toolsDir, '..'))).mode & 0o777).toBe(0o700);
  expect(HOOK_TOOL_NAMES).toEqual(
    expect.arrayContaining(['relation-get', 'secret-info-get', 'goal-state', 'juju-log']),
  );
  expect(hookToolShimPath()).toMatch(/lib\/charm-testing\/bin\/hook-tool\.cjs$/);
});

test('forwards the tool name and argv, relays stdout and exit 0', async () => {
  const { runner, calls } = recordingRunner(() => ({ code: 0, stdout: '{"a":"1"}\n', stderr: '' }));
  await withContext('ctx-argv', runner, async () => {
    const result = await tool('relation-get', ['--format=json', '-r', 'db:3', '-', 'db/0'], 'ctx-argv');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('{"a":"1"}');
    expect(result.stderr).toBe('');
    expect(calls).toEqual([
      { tool: 'relation-get', args: ['--format=json', '-r', 'db:3', '-', 'db/0'], stdin: undefined },
    ]);
  });
});

test('[fidelity 8] relays exit codes 1 and 2 with the one-line ERROR on stderr', async () => {
  const { runner } = recordingRunner(({ args }) =>
    args[0] === '--bogus'
      ? { code: 2, stdout: '', stderr: 'ERROR option provided but not defined: --bogus\n' }
      : { code: 1, stdout: '', stderr: 'ERROR this unit is not the leader\n' },
  );
  await withContext('ctx-codes', runner, async () => {
    const usage = await tool('status-set', ['--bogus'], 'ctx-codes');
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toBe('ERROR option provided but not defined: --bogus');
    expect(usage.stdout).toBe('');
    const runtime = await tool('status-set', ['--application', 'active'], 'ctx-codes');
    expect(runtime.exitCode).toBe(1);
    expect(runtime.stderr).toBe('ERROR this unit is not the leader');
  });
});

test('sends all of stdin for `--file -` and `--file=-`', async () => {
  const { runner, calls } = recordingRunner(() => ({ code: 0, stdout: '', stderr: '' }));
  await withContext('ctx-stdin', runner, async () => {
    const big = JSON.stringify({ blob: 'x'.repeat(200_000) });
    expect((await tool('relation-set', ['-r', 'db:0', '--file', '-'], 'ctx-stdin', { input: big })).exitCode).toBe(0);
    expect((await tool('state-set', ['--file=-'], 'ctx-stdin', { input: 'k: v\n' })).exitCode).toBe(0);
    expect(calls.map((call) => call.stdin)).toEqual([big, 'k: v\n']);
  });
});

test('does not read stdin without `--file -`, even when stdin stays open', async () => {
  const { runner, calls } = recordingRunner(() => ({ code: 0, stdout: 'True\n', stderr: '' }));
  await withContext('ctx-nostdin', runner, async () => {
    // stdin is a pipe nobody closes: reading it would hang the tool until the timeout.
    const child = execa(join(server.toolsDir, 'is-leader'), [], {
      env: server.environment('ctx-nostdin'),
      stdin: 'pipe',
      timeout: 20_000,
    });
    const result = await child;
    expect(result.stdout).toBe('True');
    expect(calls).toEqual([{ tool: 'is-leader', args: [], stdin: undefined }]);
  });
});

test('a relative --file path is resolved against the hook process cwd', async () => {
  const { runner, calls } = recordingRunner(() => ({ code: 0, stdout: '', stderr: '' }));
  server.register('ctx-path', runner);
  const cwd = await mkdtemp(join(tmpdir(), 'tool-cwd-'));
  try {
    await tool('relation-set', ['--file', 'data.yaml', 'k=v'], 'ctx-path', { cwd });
    await tool('secret-add', ['token#file=token.txt'], 'ctx-path', { cwd });
    expect(calls.map((call) => call.args)).toEqual([
      ['--file', join(cwd, 'data.yaml'), 'k=v'],
      [`token#file=${join(cwd, 'token.txt')}`],
    ]);
  } finally {
    server.unregister('ctx-path');
    await rm(cwd, { recursive: true, force: true });
  }
});

test('an unknown or unregistered context exits 1 with a one-line error', async () => {
  const unknown = await tool('is-leader', [], 'no-such-context');
  expect(unknown.exitCode).toBe(1);
  expect(unknown.stderr).toBe('ERROR bad request: no hook context with id "no-such-context"');
  const { runner } = recordingRunner(() => ({ code: 0, stdout: '', stderr: '' }));
  server.register('ctx-gone', runner);
  server.unregister('ctx-gone');
  const gone = await tool('is-leader', [], 'ctx-gone');
  expect(gone.exitCode).toBe(1);
  expect(gone.stderr).toMatch(/^ERROR bad request: no hook context/);
});

test('outside any context (no JUJU_CONTEXT_ID) the tool refuses', async () => {
  const result = await execa(join(server.toolsDir, 'is-leader'), [], {
    env: { ...server.environment('x'), JUJU_CONTEXT_ID: '' },
    reject: false,
    stdin: 'ignore',
  });
  expect(result.exitCode).toBe(1);
  expect(result.stderr).toBe('ERROR JUJU_CONTEXT_ID not set');
});

test('a runner that throws gives exit 1 and ERROR with its message', async () => {
  const failing: HookToolRunner = { run: () => Promise.reject(new Error('boom')) };
  await withContext('ctx-throw', failing, async () => {
    const result = await tool('config-get', [], 'ctx-throw');
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toBe('ERROR boom');
  });
});

test('a real /bin/sh dispatch script calls two tools through PATH', async () => {
  const charmDir = await mkdtemp(join(tmpdir(), 'charm-'));
  const { runner, calls } = recordingRunner(({ tool: name }) =>
    name === 'is-leader' ? { code: 0, stdout: 'True\n', stderr: '' } : { code: 0, stdout: '', stderr: '' },
  );
  server.register('ctx-dispatch', runner);
  try {
    const dispatch = await writeShellDispatch(charmDir, [
      'set -e',
      'leader=$(is-leader)',
      'echo "{\\"leader\\": \\"$leader\\"}" | relation-set -r db:0 --file -',
      'echo "done $leader"',
    ]);
    const result = await execa(dispatch, [], { env: server.environment('ctx-dispatch'), cwd: charmDir, reject: false });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('done True');
    expect(calls).toEqual([
      { tool: 'is-leader', args: [], stdin: undefined },
      { tool: 'relation-set', args: ['-r', 'db:0', '--file', '-'], stdin: '{"leader": "True"}\n' },
    ]);
  } finally {
    server.unregister('ctx-dispatch');
    await rm(charmDir, { recursive: true, force: true });
  }
});

test('close() removes the socket and the tools directory', async () => {
  const other = await ToolServer.start();
  const base = join(other.toolsDir, '..');
  expect(existsSync(other.socketPath)).toBe(true);
  await other.close();
  expect(existsSync(base)).toBe(false);
});

test('close() cuts a call under way instead of waiting for it (a tool killed mid-call never ends its own)', async () => {
  const other = await ToolServer.start();
  let received!: () => void;
  const gotCall = new Promise<void>((resolve) => (received = resolve));
  other.register('ctx-hung', {
    run() {
      received();
      return new Promise<ToolResult>(() => undefined);
    },
  });
  const client = connect(other.socketPath);
  client.on('error', () => undefined);
  const clientClosed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.write(`${JSON.stringify({ contextId: 'ctx-hung', tool: 'status-get', args: [] })}\n`);
  await gotCall;

  const started = Date.now();
  await other.close();
  await clientClosed;
  expect(Date.now() - started).toBeLessThan(2_000);
});

test('register refuses a context id already in use', () => {
  const { runner } = recordingRunner(() => ({ code: 0, stdout: '', stderr: '' }));
  server.register('ctx-dup', runner);
  try {
    expect(() => server.register('ctx-dup', runner)).toThrow(/already registered/);
  } finally {
    server.unregister('ctx-dup');
  }
});

test('[fidelity 10] end to end: a shell dispatch run by runEvent changes the model through the real tool executables', async () => {
  const charmDir = await mkdtemp(join(tmpdir(), 'charm-'));
  try {
    const dispatch = await writeShellDispatch(charmDir, [
      'set -e',
      'if [ "$JUJU_HOOK_NAME" = "db-relation-changed" ]; then',
      '  host=$(relation-get host)',
      '  printf \'{"seen": "%s", "unit": "%s"}\' "$host" "$JUJU_REMOTE_UNIT" | relation-set --file -',
      '  status-set active "talking to $host"',
      'fi',
      'relation-set -r bogus:9 x=1 || echo "bad relation exit $?" >&2',
    ]);
    const model = fixtureModel();
    for (const name of ['agent', 'postgres']) {
      addApplication(model, name, {
        endpoints: { db: { role: 'requires', interface: 'pgsql', scope: 'global' } },
        executor: { kind: 'process', dispatch, charmDir },
      });
    }
    const relation = relate(model, 'agent:db', 'postgres:db');
    relation.unitBags['postgres/0'] = { host: 'pg0' };
    relation.unitBagVersion['postgres/0'] = 1;

    const outcome = await runEvent(
      model,
      'agent/0',
      { kind: 'hook', name: 'db-relation-changed', relationId: 0, remoteUnit: 'postgres/0', remoteApp: 'postgres' },
      { toolServer: server },
    );
    expect(outcome.stderr).toBe(
      'ERROR invalid value "bogus:9" for option -r: relation not found\nbad relation exit 2\n',
    );
    expect(outcome.exitCode).toBe(0);
    expect(outcome.committed).toBe(true);
    expect(model.relations[0]?.unitBags['agent/0']).toEqual({ seen: 'pg0', unit: 'postgres/0' });
    expect(model.units['agent/0']?.workloadStatus).toMatchObject({ status: 'active', message: 'talking to pg0' });
  } finally {
    await rm(charmDir, { recursive: true, force: true });
  }
});
