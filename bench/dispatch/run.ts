import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { bundleCharm } from '../../lib/charm-pack/bundle.js';
import { DISPATCH_SCRIPT } from '../../lib/charm-pack/dispatch-script.js';
import { median, round } from '../harness/stats.js';

/**
 * The dispatch benchmark (`npm run bench:dispatch`): what one hook costs a charm built on
 * lib/charm, cold, against a bare Node start-up.
 *
 * It bundles bench/dispatch/noop-charm.ts (the runtime's whole dispatch path, a reconcile that
 * does nothing) with the same bundler and `dispatch` script the charms use, then times,
 * interleaved and BENCH_RUNS times each: `node -e 0`; `node dist/charm.cjs` with a hook's JUJU_*
 * environment (the target case); the same through `dispatch`; and, for comparison, the example
 * charm `hello` (tests/example-charm: a zod config schema, three tool calls). The hook tools on
 * PATH are one-line shell stand-ins that log their calls: Juju's own tools (jujuc) are Juju's
 * cost, not the runtime's, and the log shows how many calls a hook makes. Target: the no-op hook
 * at most 1.5x the bare start-up (medians). Results: bench/results/dispatch.json (BENCH_OUTPUT
 * renames the file).
 */

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS = join(REPO, 'bench', 'results');
const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const OUTPUT = process.env.BENCH_OUTPUT ?? 'dispatch.json';
const TARGET_RATIO = 1.5;

// What a stand-in tool prints when the runtime reads through it (JSON, as with --format=json).
const TOOL_OUTPUT: Record<string, string> = {
  'config-get': '{"greeting":"hello"}',
  'is-leader': 'false',
  'status-get': '{"status":"unknown","message":"","status-data":{}}',
  'relation-ids': '[]',
  'state-get': '{}',
  'leader-get': '{}',
};
const STAND_IN_TOOLS = [
  ...Object.keys(TOOL_OUTPUT),
  'status-set',
  'juju-log',
  'application-version-set',
  'relation-get',
  'relation-set',
  'relation-list',
  'opened-ports',
  'goal-state',
];

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function writeStandInTools(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const tool of STAND_IN_TOOLS) {
    const output = TOOL_OUTPUT[tool];
    const body = `#!/bin/sh\necho "${tool} $*" >> "$BENCH_TOOL_LOG"\n${output === undefined ? '' : `echo '${output}'\n`}`;
    await writeFile(join(dir, tool), body, { mode: 0o755 });
  }
}

interface Timed {
  command: string[];
  env: NodeJS.ProcessEnv;
}

/** Wall time of one run in milliseconds; a non-zero exit stops the benchmark. */
function timeRun({ command, env }: Timed): number {
  const [file, ...args] = command;
  const start = process.hrtime.bigint();
  const result = spawnSync(file!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) {
    throw new Error(`${command.join(' ')} exited ${result.status}: ${String(result.stderr).trim()}`);
  }
  return elapsed;
}

interface PackedForBench {
  charmDir: string;
  bundle: string;
  dispatch: string;
  bytes: number;
}

/** The parts of a packed charm a hook runs: dist/charm.cjs and the `dispatch` script. */
async function packForBench(entry: string, charmDir: string): Promise<PackedForBench> {
  const bundle = join(charmDir, 'dist', 'charm.cjs');
  const { bytes } = await bundleCharm(entry, bundle);
  const dispatch = join(charmDir, 'dispatch');
  await writeFile(dispatch, DISPATCH_SCRIPT);
  await chmod(dispatch, 0o755);
  return { charmDir, bundle, dispatch, bytes };
}

const work = await mkdtemp(join(os.tmpdir(), 'bench-dispatch-'));
try {
  const noop = await packForBench(join(REPO, 'bench', 'dispatch', 'noop-charm.ts'), join(work, 'noop'));
  const hello = await packForBench(
    join(REPO, 'tests', 'example-charm', 'hello', 'src', 'main.ts'),
    join(work, 'hello'),
  );
  const toolsDir = join(work, 'tools');
  await writeStandInTools(toolsDir);
  const toolLog = join(work, 'tool-calls.log');
  const hookEnv = (charmDir: string): NodeJS.ProcessEnv => ({
    PATH: `${toolsDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME,
    BENCH_TOOL_LOG: toolLog,
    JUJU_DISPATCH_PATH: 'hooks/update-status',
    JUJU_HOOK_NAME: 'update-status',
    JUJU_UNIT_NAME: 'bench/0',
    JUJU_MODEL_NAME: 'bench',
    JUJU_MODEL_UUID: '8d1b7a6e-5f2c-4d1e-9a3b-1c2d3e4f5a6b',
    JUJU_VERSION: '3.6.12',
    JUJU_CHARM_DIR: charmDir,
    CHARM_DIR: charmDir,
    JUJU_MACHINE_ID: '0',
    JUJU_PRINCIPAL_UNIT: '',
    JUJU_AVAILABILITY_ZONE: '',
  });
  const cases = {
    bareNode: { command: [process.execPath, '-e', '0'], env: { PATH: process.env.PATH } },
    hook: { command: [process.execPath, noop.bundle], env: hookEnv(noop.charmDir) },
    dispatch: { command: [noop.dispatch], env: hookEnv(noop.charmDir) },
    exampleCharmHook: { command: [process.execPath, hello.bundle], env: hookEnv(hello.charmDir) },
  } satisfies Record<string, Timed>;
  type Case = keyof typeof cases;

  // One unmeasured run of each warms the page cache; the tool log shows each hook's calls.
  const toolCalls: Partial<Record<Case, string[]>> = {};
  for (const name of Object.keys(cases) as Case[]) {
    await writeFile(toolLog, '');
    timeRun(cases[name]);
    toolCalls[name] = (await readFile(toolLog, 'utf8')).split('\n').filter((line) => line !== '');
  }
  say(`no-op bundle ${noop.bytes} bytes, tool calls ${JSON.stringify(toolCalls.hook)}`);
  say(`example bundle ${hello.bytes} bytes, tool calls ${JSON.stringify(toolCalls.exampleCharmHook)}`);

  const samples: Record<Case, number[]> = { bareNode: [], hook: [], dispatch: [], exampleCharmHook: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const name of Object.keys(cases) as Case[]) samples[name].push(timeRun(cases[name]));
  }
  const medianMs = (name: Case): number => round(median(samples[name]));
  const ratio = (name: Case): number => round(median(samples[name]) / median(samples.bareNode));
  const output = {
    benchmark: 'dispatch',
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.cpus().length,
    loadAverage: os.loadavg().map((load) => round(load)),
    runs: RUNS,
    bundleBytes: { noop: noop.bytes, exampleCharm: hello.bytes },
    toolCalls,
    mediansMs: Object.fromEntries((Object.keys(cases) as Case[]).map((name) => [name, medianMs(name)])),
    ratios: { hook: ratio('hook'), dispatch: ratio('dispatch'), exampleCharmHook: ratio('exampleCharmHook') },
    target: { maxRatio: TARGET_RATIO, met: ratio('hook') <= TARGET_RATIO },
  };
  await mkdir(RESULTS, { recursive: true });
  await writeFile(join(RESULTS, OUTPUT), `${JSON.stringify(output, null, 2)}\n`);
  say(`node -e 0                     ${medianMs('bareNode')} ms (median of ${RUNS})`);
  say(
    `no-op hook (node charm.cjs)   ${medianMs('hook')} ms = ${ratio('hook')}x (target <= ${TARGET_RATIO}x: ${output.target.met ? 'met' : 'MISSED'})`,
  );
  say(`no-op hook through dispatch   ${medianMs('dispatch')} ms = ${ratio('dispatch')}x`);
  say(`example charm hook            ${medianMs('exampleCharmHook')} ms = ${ratio('exampleCharmHook')}x`);
  say(`Results: bench/results/${OUTPUT}`);
} finally {
  await rm(work, { recursive: true, force: true });
}
