// The shipped rule file and dashboard (charms/turku-api/cos/) are the modules the charm sends over
// its relations, written out; promtool accepts the rules, and its rule tests show each alert fires
// on the series /metrics exports (docs/api.md, "Alert rules"). WRITE_COS_FILES=1 rewrites the files.
import { describe, expect, test } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { execa } from 'execa';
import { dump } from 'js-yaml';
import { format, resolveConfig } from 'prettier';

import { TURKU_ALERT_RULES } from './alert-rules.js';
import { TURKU_DASHBOARD } from './dashboard.js';

/** promtool's whole output (it reports on stdout and stderr). */
const run = async (args: string[]) => (await execa('promtool', args, { all: true })).all;
const COS_DIR = fileURLToPath(new URL('../../cos/', import.meta.url));
const RULES_FILE = `${COS_DIR}turku-api.rules.yaml`;
const DASHBOARD_FILE = `${COS_DIR}turku-api.dashboard.json`;
const RULE_TESTS = fileURLToPath(new URL('testdata/alert-rules.test.yaml', import.meta.url));

const HEADER =
  '# Written from charms/turku-api/src/cos/alert-rules.ts (WRITE_COS_FILES=1 npm run jest -- charms/turku-api/src/cos/cos-files.test.ts).\n';
/** As `npm run lint` wants the files: formatted by prettier with the repository's settings. */
const formatted = async (file: string, text: string) =>
  format(text, { ...(await resolveConfig(file)), filepath: file });
const rulesText = await formatted(RULES_FILE, HEADER + dump(TURKU_ALERT_RULES, { lineWidth: 120, noRefs: true }));
const dashboardText = await formatted(DASHBOARD_FILE, JSON.stringify(TURKU_DASHBOARD));

describe('the shipped files', () => {
  test('equal what the charm sends', async () => {
    if (process.env.WRITE_COS_FILES === '1') {
      await writeFile(RULES_FILE, rulesText);
      await writeFile(DASHBOARD_FILE, dashboardText);
    }
    expect(await readFile(RULES_FILE, 'utf8')).toBe(rulesText);
    expect(await readFile(DASHBOARD_FILE, 'utf8')).toBe(dashboardText);
  });

  test('promtool checks the rules and its rule tests pass', async () => {
    expect(await run(['check', 'rules', RULES_FILE])).toMatch(/SUCCESS: 8 rules found/);
    expect(await run(['test', 'rules', RULE_TESTS])).toMatch(/SUCCESS/);
  });

  test('promtool fails a rule test that expects the wrong alert (the check can fail)', async () => {
    const wrong = (await readFile(RULE_TESTS, 'utf8')).replace(
      'alertname: TurkuSourceOverdue',
      'alertname: TurkuVerifyFailed',
    );
    // Beside the right one, so its relative rule_files path holds.
    const file = RULE_TESTS.replace(/[.]test[.]yaml$/, '.wrong.yaml');
    await writeFile(file, wrong);
    try {
      await expect(run(['test', 'rules', file])).rejects.toThrow(/FAILED/);
    } finally {
      await rm(file, { force: true });
    }
  });
});
