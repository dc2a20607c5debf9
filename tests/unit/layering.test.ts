// `npm run lint` checks the layering with dependency-cruiser (.dependency-cruiser.cjs; docs/development.md,
// "Layering"). These tests show the check bites: a small tree laid out like ours, holding one
// breach of each rule, fails with the rule named, while the allowed imports beside them pass; and
// the real tree passes. The small tree lives in a temporary directory outside the repository, so
// nothing a concurrent tsc, eslint or test reads ever sees it.
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll, describe, expect, jest, test } from '@jest/globals';
import { execa } from 'execa';

jest.setTimeout(180_000);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruiser.mjs');

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
  readonly cycle?: readonly unknown[];
}

/** The arguments `npm run lint:deps` gives depcruise. */
async function lintDepsArgs(): Promise<{ lint: string; args: string[] }> {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const [program, ...args] = (pkg.scripts['lint:deps'] ?? '').split(/\s+/);
  expect(program).toBe('depcruise');
  return { lint: pkg.scripts.lint ?? '', args };
}

/** Runs depcruise in `cwd` with the given arguments. */
async function depcruise(cwd: string, args: readonly string[]): Promise<{ exitCode: number; stdout: string }> {
  const result = await execa(process.execPath, [DEPCRUISE, ...args], {
    cwd,
    reject: false,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout };
}

/** The violations depcruise finds in `cwd` with lint:deps' arguments, from its JSON report. */
async function violationsIn(cwd: string, args: readonly string[]): Promise<string[]> {
  const { stdout } = await depcruise(cwd, [...args, '--output-type', 'json']);
  const report = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return report.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

/** Each file of the small tree: its path, and the modules it imports (relative specifiers, "./x.js"). */
const PROBE_TREE: Record<string, string[]> = {
  // Breaches, one per rule.
  'lib/turku/reaches-up.ts': ['../api/server.js'],
  'lib/turku/reads-files.ts': ['node:fs'],
  'lib/common/reaches-up.ts': ['../storage/engine.js'],
  'lib/agent/calls-api.ts': ['../api/server.js'],
  'lib/storage/runs-a-charm.ts': ['../charm/runtime.js'],
  'lib/charm-host/deploys.ts': ['../substrate/driver.js'],
  'lib/charm/knows-a-charm.ts': ['../../charms/one/src/charm.js'],
  'charms/one/src/charm.ts': ['../../two/src/charm.js'],
  'charms/two/src/charm.ts': [],
  'lib/charm-pack/uses-the-fake.ts': ['../charm-testing/simulator.js'],
  'lib/substrate/juju/uses-the-fake.ts': ['../../charm-testing/simulator.js'],
  'lib/api/uses-a-test-helper.ts': ['../../tests/support/harness.js'],
  'lib/common/cycle-a.ts': ['./cycle-b.js'],
  'lib/common/cycle-b.ts': ['./cycle-a.js'],
  'lib/timers/type-cycle-a.ts': ['type:./type-cycle-b.js'],
  'lib/timers/type-cycle-b.ts': ['./type-cycle-a.js'],
  // Allowed: each layer on the ones below, tests on anything, the local substrate on the fake.
  'lib/turku/rules.ts': ['node:crypto'],
  'lib/common/io.ts': ['../turku/rules.js'],
  'lib/api/server.ts': ['../common/io.js', '../turku/rules.js', './store.js'],
  'lib/api/store.ts': [],
  'lib/storage/engine.ts': ['../common/io.js'],
  'lib/charm/runtime.ts': [],
  'lib/charm-testing/simulator.ts': ['../charm/runtime.js'],
  'lib/substrate/driver.ts': [],
  'lib/substrate/local/driver.ts': ['../../charm-testing/simulator.js', '../driver.js', '../../storage/engine.js'],
  'lib/agent/agent.test.ts': ['../api/server.js', '../charm-testing/simulator.js', '../../tests/support/harness.js'],
  'lib/agent/__tests__/helpers.ts': ['../../api/server.js'],
  'tests/support/harness.ts': ['../../lib/api/server.js', '../../lib/charm-testing/simulator.js'],
  'bench/run.ts': ['../tests/support/harness.js', '../lib/agent/calls-api.js'],
};

function moduleText(imports: readonly string[]): string {
  const lines = imports.map((spec, i) =>
    spec.startsWith('type:')
      ? `import type { T as T${i} } from '${spec.slice(5)}';\nexport type U${i} = T${i};`
      : `import * as m${i} from '${spec}';\nexport const v${i} = m${i};`,
  );
  return [...lines, 'export type T = number;', 'export const here = 1;', ''].join('\n');
}

describe('the layering check', () => {
  let probe: string;

  beforeAll(async () => {
    probe = await mkdtemp(join(os.tmpdir(), 'turku-layering-'));
    // The project's own configuration, and the tsconfig it resolves "./x.js" through.
    await copyFile(join(ROOT, '.dependency-cruiser.cjs'), join(probe, '.dependency-cruiser.cjs'));
    await copyFile(join(ROOT, 'tsconfig.json'), join(probe, 'tsconfig.json'));
    for (const [path, imports] of Object.entries(PROBE_TREE)) {
      await mkdir(dirname(join(probe, path)), { recursive: true });
      await writeFile(join(probe, path), moduleText(imports));
    }
  });

  afterAll(async () => {
    if (probe !== undefined) await rm(probe, { recursive: true, force: true });
  });

  test('npm run lint runs it', async () => {
    const { lint } = await lintDepsArgs();
    expect(lint.split(' && ')).toContain('npm run lint:deps');
  });

  test('fails on each breach, naming the rule, and lets the allowed imports through', async () => {
    const { args } = await lintDepsArgs();
    // A cycle is reported once, at the module where the cruise entered it.
    expect(await violationsIn(probe, args)).toEqual(
      [
        'domain-imports-no-layer: lib/turku/reaches-up.ts -> lib/api/server.ts',
        'domain-does-no-io: lib/turku/reads-files.ts -> fs',
        'common-imports-only-domain: lib/common/reaches-up.ts -> lib/storage/engine.ts',
        'workloads-independent: lib/agent/calls-api.ts -> lib/api/server.ts',
        'workloads-below-charms: lib/storage/runs-a-charm.ts -> lib/charm/runtime.ts',
        'charm-layer-below-substrate: lib/charm-host/deploys.ts -> lib/substrate/driver.ts',
        'charm-libraries-serve-every-charm: lib/charm/knows-a-charm.ts -> charms/one/src/charm.ts',
        'charms-independent: charms/one/src/charm.ts -> charms/two/src/charm.ts',
        'test-fake-only-in-tests: lib/charm-pack/uses-the-fake.ts -> lib/charm-testing/simulator.ts',
        'test-fake-only-in-tests: lib/substrate/juju/uses-the-fake.ts -> lib/charm-testing/simulator.ts',
        'production-never-imports-tests: lib/api/uses-a-test-helper.ts -> tests/support/harness.ts',
        'no-circular: lib/common/cycle-a.ts -> lib/common/cycle-b.ts',
        'no-circular: lib/timers/type-cycle-a.ts -> lib/timers/type-cycle-b.ts',
      ].sort(),
    );
    // As lint:deps runs it: the run fails (exit status = number of errors), naming the rules.
    const lint = await depcruise(probe, args);
    expect(lint.exitCode).toBe(13);
    expect(lint.stdout).toContain('error domain-imports-no-layer: lib/turku/reaches-up.ts → lib/api/server.ts');
    expect(lint.stdout).toMatch(/error no-circular: lib\/common\/cycle-a\.ts →\s+lib\/common\/cycle-b\.ts →/);
  });

  test('the repository passes', async () => {
    const { args } = await lintDepsArgs();
    const lint = await depcruise(ROOT, args);
    expect(lint.stdout).toContain('no dependency violations found');
    expect(lint.exitCode).toBe(0);
  });
});
