import { afterAll, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';

import { agentTree, fakeSshRun, registeredAgent, removeTempDirs } from './__tests__/helpers.js';

/**
 * The built programs as the timers and operators run them: argv, exit status, stdout/stderr
 * and signals wired to the flows. `npm test` builds first.
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const UPDATE_CONFIG = `${root}dist/lib/agent/update-config-main.js`;
const PING = `${root}dist/lib/agent/ping-main.js`;

afterAll(removeTempDirs);

it('the built programs exist and start with a node shebang', async () => {
  for (const program of [UPDATE_CONFIG, PING]) {
    if (!existsSync(program)) throw new Error(`${program} is missing: run "npm run build" first (npm test does)`);
    expect((await readFile(program, 'utf8')).split('\n', 1)[0]).toBe('#!/usr/bin/env node');
  }
});

it('turku-update-config fails with one line on stderr', async () => {
  const tree = await agentTree();
  const result = await execa('node', [UPDATE_CONFIG, '--config-dir', tree.configDir], { reject: false });
  expect(result).toMatchObject({ exitCode: 1, stdout: '' });
  expect(result.stderr).toBe(`turku-update-config: api_url is not set in ${tree.configDir}/config.d`);
});

it('turku-agent-ping exits 0 silently before registration, and 2 on a bad flag', async () => {
  const tree = await agentTree();
  expect(await execa('node', [PING, '-c', tree.configDir], { reject: false })).toMatchObject({
    exitCode: 0,
    stdout: '',
    stderr: '',
  });
  expect(await execa('node', [PING, '--bogus'], { reject: false })).toMatchObject({ exitCode: 2, stdout: '' });
});

it('turku-agent-ping --restore ends the session cleanly on SIGTERM', async () => {
  const agent = await registeredAgent(`
    log('INFO', 'Restore mode active on port ' + port + '.  Good luck.');
    await waitForEof();
    process.exit(0);`);
  try {
    const session = execa('node', [PING, '-c', agent.tree.configDir, '--restore'], { reject: false });
    await new Promise<void>((resolve) => {
      let stderr = '';
      session.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes('Restore mode active')) resolve();
      });
    });
    session.kill('SIGTERM');
    const result = await session;
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^Entering restore mode\.\n\n/);
    expect(result.stdout).toContain('Local destination path: ');
    expect((await fakeSshRun(agent.record, 1))?.eof).toBe(true);
  } finally {
    await agent.api.close();
  }
}, 30_000);
