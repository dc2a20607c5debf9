import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { type WaitClock } from '../wait.js';
import { type CommandResult, type CommandRunner, SpawnError, execaRunner } from './cli.js';
import { JujuDriver } from './driver.js';

type Reply = Partial<CommandResult> | Error;

/** Records every argv; answers through `reply` (exit 0 with empty output by default). */
function recorder(reply: (argv: readonly string[]) => Reply = () => ({})) {
  const calls: string[][] = [];
  const run: CommandRunner = (argv) => {
    calls.push([...argv]);
    const answer = reply(argv);
    if (answer instanceof Error) return Promise.reject(answer);
    return Promise.resolve({ exitCode: 0, stdout: '', stderr: '', ...answer });
  };
  return { run, calls };
}

const ok = (stdout: string): Reply => ({ stdout });
const fail = (stderr: string, exitCode = 1): Reply => ({ exitCode, stderr });

function statusJson(units: Record<string, string>): string {
  const apps: Record<string, { units: Record<string, unknown> }> = {};
  for (const [name, workload] of Object.entries(units)) {
    const app = name.split('/')[0] ?? '';
    (apps[app] ??= { units: {} }).units[name] = {
      'workload-status': { current: workload },
      'juju-status': { current: 'idle' },
      machine: name.split('/')[1],
    };
  }
  return JSON.stringify({ model: { name: 'test-x' }, applications: apps });
}

function driver(reply?: (argv: readonly string[]) => Reply) {
  const { run, calls } = recorder(reply);
  return { juju: new JujuDriver({ model: 'test-x', run }), calls };
}

describe('JujuDriver commands', () => {
  it('deploys a bundle with overlays in order', async () => {
    const { juju, calls } = driver();
    await juju.deployBundle('bundles/turku.yaml');
    await juju.deployBundle('bundles/turku.yaml', { overlays: ['bundles/turku-ha.yaml', 'extra.yaml'] });
    expect(calls).toEqual([
      ['juju', 'deploy', '-m', 'test-x', 'bundles/turku.yaml'],
      [
        'juju',
        'deploy',
        '-m',
        'test-x',
        'bundles/turku.yaml',
        '--overlay',
        'bundles/turku-ha.yaml',
        '--overlay',
        'extra.yaml',
      ],
    ]);
  });

  it('deploys a charm with units and stringified config', async () => {
    const { juju, calls } = driver();
    await juju.deploy('./build/turku-api.charm', 'turku-api');
    await juju.deploy('./build/turku-storage.charm', 'store', {
      numUnits: 2,
      config: { port: 8000, debug: true, 'snapshot-mode': 'link-dest' },
    });
    expect(calls).toEqual([
      ['juju', 'deploy', '-m', 'test-x', './build/turku-api.charm', 'turku-api'],
      [
        'juju',
        'deploy',
        '-m',
        'test-x',
        './build/turku-storage.charm',
        'store',
        '-n',
        '2',
        '--config',
        'port=8000',
        '--config',
        'debug=true',
        '--config',
        'snapshot-mode=link-dest',
      ],
    ]);
  });

  it('integrates, removes relations and units, sets config', async () => {
    const { juju, calls } = driver();
    await juju.integrate('turku-agent:juju-info', 'ubuntu:juju-info');
    await juju.removeRelation('turku-agent:turku-api', 'turku-api:agents');
    await juju.removeUnit('turku-storage/1');
    await juju.config('turku-api', { port: 9090, 'log-debug': false });
    await juju.config('turku-api', {});
    expect(calls).toEqual([
      ['juju', 'integrate', '-m', 'test-x', 'turku-agent:juju-info', 'ubuntu:juju-info'],
      ['juju', 'remove-relation', '-m', 'test-x', 'turku-agent:turku-api', 'turku-api:agents'],
      ['juju', 'remove-unit', '-m', 'test-x', 'turku-storage/1', '--no-prompt'],
      ['juju', 'config', '-m', 'test-x', 'turku-api', 'port=9090', 'log-debug=false'],
    ]);
  });

  it('adds units and returns the new names from status before and after, sorted by number', async () => {
    let added = false;
    const { juju, calls } = driver((argv) => {
      if (argv[1] === 'add-unit') {
        added = true;
        return {};
      }
      return ok(
        statusJson(
          added
            ? {
                'store/0': 'active',
                'store/1': 'active',
                'store/10': 'waiting',
                'store/9': 'waiting',
                'api/0': 'active',
              }
            : { 'store/0': 'active', 'store/1': 'active', 'api/0': 'active' },
        ),
      );
    });
    expect(await juju.addUnit('store', 2)).toEqual(['store/9', 'store/10']);
    expect(calls).toEqual([
      ['juju', 'status', '-m', 'test-x', '--format', 'json'],
      ['juju', 'add-unit', '-m', 'test-x', 'store', '-n', '2'],
      ['juju', 'status', '-m', 'test-x', '--format', 'json'],
    ]);
    calls.length = 0;
    await juju.addUnit('store');
    expect(calls[1]).toEqual(['juju', 'add-unit', '-m', 'test-x', 'store']);
  });

  it('reads status through the parser', async () => {
    const { juju, calls } = driver(() => ok(statusJson({ 'api/0': 'active' })));
    const status = await juju.status();
    expect(calls).toEqual([['juju', 'status', '-m', 'test-x', '--format', 'json']]);
    expect(status.model).toBe('test-x');
    expect(status.units['api/0']).toMatchObject({ workload: 'active', machine: '0' });
  });

  it('waits by polling status, with the injected clock', async () => {
    const { run, calls } = recorder(() => ok(statusJson({ 'api/0': 'active' })));
    const sleeps: number[] = [];
    let now = 0;
    const clock: WaitClock = {
      now: () => now,
      sleep: (ms) => {
        sleeps.push(ms);
        now += ms;
        return Promise.resolve();
      },
    };
    const juju = new JujuDriver({ model: 'test-x', run, clock });
    await juju.waitUntil((s) => s.units['api/0']?.workload === 'active');
    expect(calls).toHaveLength(3);
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('destroys the model with storage, without waiting', async () => {
    const { juju, calls } = driver();
    await juju.destroy();
    expect(calls).toEqual([
      ['juju', 'destroy-model', 'test-x', '--no-prompt', '--destroy-storage', '--force', '--no-wait'],
    ]);
  });

  it('uses the configured binary', async () => {
    const { run, calls } = recorder();
    await new JujuDriver({ model: 'm', run, juju: '/snap/bin/juju' }).integrate('a', 'b');
    expect(calls).toEqual([['/snap/bin/juju', 'integrate', '-m', 'm', 'a', 'b']]);
  });
});

describe('execaRunner', () => {
  it('resolves with a non-zero exit, passing input on stdin', async () => {
    expect(await execaRunner(['sh', '-c', 'cat; echo oops >&2; exit 3'], { input: 'hello' })).toEqual({
      exitCode: 3,
      stdout: 'hello',
      stderr: 'oops',
    });
  });
});

describe('JujuDriver.createModel', () => {
  it('adds the model and configures it for tests', async () => {
    const { run, calls } = recorder();
    const juju = await JujuDriver.createModel('test-x', run);
    expect(juju.model).toBe('test-x');
    expect(juju.kind).toBe('juju');
    expect(calls).toEqual([
      ['juju', 'add-model', 'test-x'],
      ['juju', 'model-config', '-m', 'test-x', 'automatically-retry-hooks=false', 'update-status-hook-interval=60m'],
    ]);
  });

  it('picks a random turku-it-<8 hex> name by default', async () => {
    const { run, calls } = recorder();
    const juju = await JujuDriver.createModel(undefined, run);
    expect(juju.model).toMatch(/^turku-it-[0-9a-f]{8}$/);
    expect(calls[0]).toEqual(['juju', 'add-model', juju.model]);
  });

  it('fails with the command and the last line of stderr', async () => {
    const { run } = recorder(() => fail('some progress\nERROR model "test-x" already exists\n'));
    await expect(JujuDriver.createModel('test-x', run)).rejects.toThrow(
      new Error('juju add-model test-x: ERROR model "test-x" already exists'),
    );
  });
});

describe('JujuDriver errors', () => {
  it('names the command and the last stderr line, on one line', async () => {
    const { juju } = driver(() => fail('Located charm "ubuntu"\nERROR cannot add relation: no relation found\n'));
    const error = await juju.integrate('a:x', 'b:y').catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'juju integrate -m test-x a:x b:y: ERROR cannot add relation: no relation found',
    );
  });

  it('falls back to the exit code when stderr is empty', async () => {
    const { juju } = driver(() => fail('', 2));
    await expect(juju.removeUnit('a/0')).rejects.toThrow('juju remove-unit -m test-x a/0 --no-prompt: exit code 2');
  });

  it('maps a missing binary to "not on PATH"', async () => {
    const { juju } = driver(() => new SpawnError('juju', 'ENOENT', 'cannot run juju: ENOENT'));
    await expect(juju.destroy()).rejects.toThrow(
      'juju destroy-model test-x --no-prompt --destroy-storage --force --no-wait: juju is not on PATH',
    );
  });

  it('rejects status output that is not JSON', async () => {
    const { juju } = driver(() => ok('Model  Controller\n'));
    await expect(juju.status()).rejects.toThrow('juju status -m test-x: output is not JSON: Model  Controller');
  });

  it('quotes arguments with spaces so the message stays one line', async () => {
    const { juju } = driver(() => fail('ERROR bad\n'));
    await expect(juju.config('a', { motd: 'hello\nworld' })).rejects.toThrow(
      new Error('juju config -m test-x a "motd=hello\\nworld": ERROR bad'),
    );
  });
});

describe('JujuDriver.runAction', () => {
  const task = (body: Record<string, unknown>) =>
    JSON.stringify({ 'turku-api/0': { id: '12', unit: 'turku-api/0', ...body } });

  it('runs with --format json and --wait, and returns a completed outcome without return-code/stdout/stderr', async () => {
    const { juju, calls } = driver(() =>
      ok(
        task({
          status: 'completed',
          message: '',
          results: { 'return-code': 0, stdout: 'done\n', archive: 'b-17', stats: { files: '3' } },
          log: ['2026-01-02 10:00:00 +0000 UTC started'],
        }),
      ),
    );
    expect(await juju.runAction('turku-api/0', 'list-machines')).toEqual({
      status: 'completed',
      message: '',
      results: { archive: 'b-17', stats: { files: '3' } },
    });
    expect(calls).toEqual([
      ['juju', 'run', '-m', 'test-x', 'turku-api/0', 'list-machines', '--format', 'json', '--wait', '5m'],
    ]);
  });

  it('with paramsAsArguments, passes string params as key=value with --string-args, as typed', async () => {
    const { run, calls } = recorder(() => ok(task({ status: 'completed', results: {} })));
    const juju = new JujuDriver({ model: 'test-x', run, paramsAsArguments: true });
    await juju.runAction('turku-agent/1', 'restore', { source: 'etc', target: '/var/restore/etc' });
    expect(calls[0]).toEqual([
      'juju',
      'run',
      '-m',
      'test-x',
      'turku-agent/1',
      'restore',
      'source=etc',
      'target=/var/restore/etc',
      '--string-args',
      '--format',
      'json',
      '--wait',
      '5m',
    ]);
    // A value that is not a one-line string still goes through the file.
    await juju.runAction('turku-agent/1', 'restore-session', { timeout: 120 });
    expect(calls[1]).toContain('--params');
  });

  it('passes params through a 0600 JSON file that is removed afterwards', async () => {
    let seen: { path: string; text: string; mode: number } | undefined;
    const { run, calls } = recorder((argv) => {
      const path = argv[argv.indexOf('--params') + 1] ?? '';
      seen = { path, text: readFileSync(path, 'utf8'), mode: statSync(path).mode & 0o777 };
      return ok(task({ status: 'completed', results: {} }));
    });
    const juju = new JujuDriver({ model: 'test-x', run, actionWait: '10m' });
    await juju.runAction('turku-storage/leader', 'restore', { source: 'etc', 'dry-run': true, retries: 3 });
    expect(calls[0]).toEqual([
      'juju',
      'run',
      '-m',
      'test-x',
      'turku-storage/leader',
      'restore',
      '--format',
      'json',
      '--wait',
      '10m',
      '--params',
      seen?.path,
    ]);
    expect(JSON.parse(seen?.text ?? '')).toEqual({ source: 'etc', 'dry-run': true, retries: 3 });
    expect(seen?.mode).toBe(0o600);
    expect(existsSync(seen?.path ?? '')).toBe(false);
  });

  it('removes the params file when the runner throws', async () => {
    let path = '';
    const { run } = recorder((argv) => {
      path = argv[argv.indexOf('--params') + 1] ?? '';
      return new Error('boom');
    });
    await expect(new JujuDriver({ model: 'test-x', run }).runAction('a/0', 'x', { k: 'v' })).rejects.toThrow('boom');
    expect(path).not.toBe('');
    expect(existsSync(path)).toBe(false);
  });

  it('reads a handler that exited 1 as failed, from stdout although the CLI exited non-zero', async () => {
    const { juju } = driver(() => ({
      exitCode: 1,
      stdout: task({
        status: 'failed',
        message: 'exit status 1',
        results: { 'return-code': 1, stderr: 'Traceback\nno such snapshot\n' },
      }),
      stderr: 'ERROR the following task failed:\n - id "12" with return code 1\n',
    }));
    expect(await juju.runAction('turku-api/0', 'restore')).toEqual({
      status: 'failed',
      message: 'exit status 1',
      results: {},
    });
  });

  it('counts completed with a non-zero return-code as failed, message from the stderr', async () => {
    const { juju } = driver(() => ({
      exitCode: 1,
      stdout: task({
        status: 'completed',
        results: { 'return-code': 2, stderr: 'warming up\ndisk full\n', note: 'x' },
      }),
    }));
    expect(await juju.runAction('turku-api/0', 'backup-now')).toEqual({
      status: 'failed',
      message: 'disk full',
      results: { note: 'x' },
    });
  });

  it('keeps action-fail (status failed, exit 0) as failed', async () => {
    const { juju } = driver(() => ok(task({ status: 'failed', message: 'no such source', results: {} })));
    expect(await juju.runAction('turku-api/0', 'restore')).toEqual({
      status: 'failed',
      message: 'no such source',
      results: {},
    });
  });

  it('reports a CLI timeout as an error outcome with the stderr line', async () => {
    const { juju } = driver(() =>
      fail('Running operation 7 with 1 task\nERROR timed out waiting for results from: unit turku-api/0\n'),
    );
    expect(await juju.runAction('turku-api/0', 'backup-now')).toEqual({
      status: 'error',
      message: 'ERROR timed out waiting for results from: unit turku-api/0',
      results: {},
    });
  });

  it('reads a task still running when --wait expired as an error', async () => {
    const { juju } = driver(() => ({
      exitCode: 1,
      stdout: task({ status: 'running' }),
      stderr: 'ERROR timed out waiting for results from: unit turku-api/0\n',
    }));
    expect(await juju.runAction('turku-api/0', 'backup-now')).toEqual({
      status: 'error',
      message: 'ERROR timed out waiting for results from: unit turku-api/0',
      results: {},
    });
  });

  it('returns an error outcome when stdout has no JSON', async () => {
    const { juju } = driver(() => ({
      exitCode: 1,
      stdout: 'not json',
      stderr: 'ERROR action "nope" not defined on unit "turku-api/0"\n',
    }));
    expect(await juju.runAction('turku-api/0', 'nope')).toEqual({
      status: 'error',
      message: 'ERROR action "nope" not defined on unit "turku-api/0"',
      results: {},
    });
  });
});

describe('JujuDriver.exec', () => {
  const script = 'cat "$MACHINE_ROOT/etc/turku-agent/config.json"';

  it('runs sh -c with an empty MACHINE_ROOT and parses the task results', async () => {
    const { juju, calls } = driver(() =>
      ok(
        JSON.stringify({
          'ubuntu/0': { id: '4', status: 'completed', unit: 'ubuntu/0', results: { 'return-code': 0, stdout: '{}\n' } },
        }),
      ),
    );
    expect(await juju.exec('ubuntu/0', script)).toEqual({ exitCode: 0, stdout: '{}\n', stderr: '' });
    expect(calls).toEqual([
      [
        'juju',
        'exec',
        '-m',
        'test-x',
        '--unit',
        'ubuntu/0',
        '--format',
        'json',
        '--',
        'env',
        'MACHINE_ROOT=',
        'sh',
        '-c',
        script,
      ],
    ]);
  });

  it('returns a failing command as an outcome', async () => {
    const { juju } = driver(() => ({
      exitCode: 1,
      stdout: JSON.stringify({
        'ubuntu/0': { id: '5', status: 'failed', results: { 'return-code': 3, stderr: 'no such file\n' } },
      }),
      stderr: 'ERROR the following task failed:\n - id "5" with return code 3\n',
    }));
    expect(await juju.exec('ubuntu/0', 'exit 3')).toEqual({ exitCode: 3, stdout: '', stderr: 'no such file\n' });
  });

  it('returns the CLI failure when no task was created', async () => {
    const { juju } = driver(() => fail('ERROR unit "ubuntu/9" not found\n'));
    expect(await juju.exec('ubuntu/9', 'true')).toEqual({
      exitCode: 1,
      stdout: '',
      stderr: 'ERROR unit "ubuntu/9" not found\n',
    });
  });
});

describe('JujuDriver.probe', () => {
  it('maps execa failing to spawn a missing binary to "not on PATH"', async () => {
    await expect(execaRunner(['turku-no-such-juju', 'version'])).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await JujuDriver.probe(execaRunner, 'turku-no-such-juju')).toEqual({
      available: false,
      reason: 'turku-no-such-juju is not on PATH',
    });
  });

  it('finds the current controller', async () => {
    const { run, calls } = recorder((argv) =>
      argv[1] === 'version'
        ? ok('3.6.12-genericlinux-amd64\n')
        : ok(JSON.stringify({ lxd: { details: { uuid: 'u', 'api-endpoints': ['10.0.0.2:17070'] } } })),
    );
    expect(await JujuDriver.probe(run)).toEqual({ available: true, controller: 'lxd' });
    expect(calls).toEqual([
      ['juju', 'version'],
      ['juju', 'show-controller', '--format', 'json'],
    ]);
  });

  it('says juju is not on PATH when spawning fails with ENOENT (SpawnError or a raw errno error)', async () => {
    const spawn = recorder(() => new SpawnError('juju', 'ENOENT', 'cannot run juju: ENOENT'));
    expect(await JujuDriver.probe(spawn.run)).toEqual({ available: false, reason: 'juju is not on PATH' });
    expect(spawn.calls).toHaveLength(1);
    const raw = recorder(() => Object.assign(new Error('spawn juju ENOENT'), { code: 'ENOENT' }));
    expect(await JujuDriver.probe(raw.run)).toEqual({ available: false, reason: 'juju is not on PATH' });
  });

  it('reports no reachable controller from show-controller failing', async () => {
    const { run } = recorder((argv) =>
      argv[1] === 'version' ? ok('3.6.12\n') : fail('ERROR No controllers registered.\n\nPlease either create...\n'),
    );
    expect(await JujuDriver.probe(run)).toEqual({
      available: false,
      reason: 'no controller is reachable: ERROR No controllers registered.',
    });
  });

  it('reports no reachable controller from show-controller errors', async () => {
    const { run } = recorder((argv) =>
      argv[1] === 'version'
        ? ok('3.6.12\n')
        : ok(JSON.stringify({ lxd: { details: {}, errors: ['dial tcp 10.0.0.2:17070: connect: no route to host'] } })),
    );
    expect(await JujuDriver.probe(run)).toEqual({
      available: false,
      reason: 'no controller is reachable: dial tcp 10.0.0.2:17070: connect: no route to host',
    });
  });

  it('reports a broken client', async () => {
    const { run } = recorder(() => fail('snap-confine has elevated permissions\n'));
    expect(await JujuDriver.probe(run)).toEqual({
      available: false,
      reason: 'juju version failed: snap-confine has elevated permissions',
    });
  });
});
