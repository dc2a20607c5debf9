import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { bundleProgram } from '../../lib/charm-pack/bundle.js';

/**
 * The agent's check-in with nothing due, for bench/dispatch: the bundled turku-agent-ping (its
 * launcher and bundle as a packed charm installs them, so with the compile cache) on a registered
 * machine's configuration, against a stub API in its own process that answers every check-in
 * with nothing scheduled. No network namespace, sshd or root: the start-up path alone, quick to
 * run back to back on two trees. bench:datapath measures the same ping against the real turku-api
 * (docs/datapath.md); this one leaves out the API's own time.
 */

/** A stub turku-api: every POST gets a check-in answer with nothing scheduled; prints its port. */
const STUB_API = `
const http = require('node:http');
const answer = JSON.stringify({ machine: { scheduled_sources: {} }, scheduled_sources: {} });
http.createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
    response.end(answer);
  });
}).listen(0, '127.0.0.1', function () { process.stdout.write(this.address().port + '\\n'); });
`;

export interface NothingDuePing {
  /** turku-agent-ping's launcher, then its arguments. */
  readonly command: string[];
  readonly bundleBytes: number;
  /** Stops the stub API. */
  readonly stop: () => void;
}

async function startStubApi(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['-e', STUB_API], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the stub API exited ${code}`)));
    child.stdout.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
  });
  return { child, port };
}

/**
 * Bundles turku-agent-ping from `repo`'s sources into `dir`, writes a registered machine's
 * configuration there and starts the stub API; checks that one ping finds nothing due.
 */
export async function prepareNothingDuePing(
  repo: string,
  dir: string,
  env: NodeJS.ProcessEnv,
): Promise<NothingDuePing> {
  const launcher = join(dir, 'workload', 'turku-agent-ping.cjs');
  const { bytes } = await bundleProgram(join(repo, 'lib', 'agent', 'ping-main.ts'), launcher);
  const { child, port } = await startStubApi();
  const stop = () => void child.kill();
  try {
    const configDir = join(dir, 'etc');
    const varDir = join(dir, 'var');
    await mkdir(join(configDir, 'config.d'), { recursive: true });
    await mkdir(join(configDir, 'sources.d'), { recursive: true });
    await mkdir(varDir, { recursive: true });
    const config = {
      api_url: `http://127.0.0.1:${port}`,
      machine_uuid: '0b6c3e5a-1f2d-4c3b-9a8e-7d6c5b4a3f21',
      machine_secret: 'bench-secret',
      var_dir: varDir,
      lock_dir: join(dir, 'lock'),
    };
    await writeFile(join(configDir, 'config.d', '10-bench.json'), JSON.stringify(config));
    await writeFile(join(configDir, 'sources.d', 'home.json'), JSON.stringify({ home: { path: dir } }));
    // The check-in only looks for the public key: a registered machine has one.
    await writeFile(join(varDir, 'ssh_key.pub'), 'ssh-ed25519 AAAA bench\n');
    const command = [process.execPath, launcher, '--config-dir', configDir];
    const probe = spawnSync(command[0]!, [...command.slice(1), '--debug'], { env, encoding: 'utf8' });
    if (probe.status !== 0 || !probe.stderr.includes('Nothing is due')) {
      throw new Error(`turku-agent-ping did not find nothing due (exit ${probe.status}): ${probe.stderr.trim()}`);
    }
    return { command, bundleBytes: bytes, stop };
  } catch (error) {
    stop();
    throw error;
  }
}
