import { afterAll, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { removeTempDirs, tempDir } from './__tests__/helpers.js';
import {
  LAST_BACKUPS_FILE,
  lastBackupsText,
  parseLastBackups,
  readLastBackups,
  recordSession,
  withSession,
} from './last-backups.js';

afterAll(removeTempDirs);

const T1 = '2026-12-01T06:00:00.000Z';
const T2 = '2026-12-01T07:00:00.000Z';

const S1 = { time: T1, storage: 'primary' };
const S2 = { time: T2, storage: 'primary' };
const OK = { outcome: 'ok' } as const;
const FAILED = { outcome: 'failed', reason: 'rsync exited with return code 23' } as const;
const UNKNOWN = { outcome: 'unknown', reason: 'the storage does not report per-source results' } as const;

describe('last-backups.json', () => {
  it('keeps the last success across failed and unknown sessions and leaves other sources alone', () => {
    const first = withSession({}, S1, { etc: OK, home: OK, www: OK });
    const second = withSession(first, S2, { etc: FAILED, www: UNKNOWN });
    expect(second).toEqual({
      etc: { last_session: { ...S2, ok: false, ...FAILED }, last_success: T1 },
      home: { last_session: { ...S1, ok: true, outcome: 'ok' }, last_success: T1 },
      www: { last_session: { ...S2, ok: false, ...UNKNOWN }, last_success: T1 },
    });
    expect(withSession({}, S2, { new: FAILED }).new!.last_success).toBeNull();
    expect(parseLastBackups(lastBackupsText(second))).toEqual(second);
  });

  it('parses leniently: bad entries are left out, a bad document is unknown, the first format is read', () => {
    const text = JSON.stringify({
      sources: {
        good: { last_session: { ...S1, ok: true, outcome: 'ok' }, last_success: T1 },
        failed: { last_session: { ...S1, ok: false, ...FAILED }, last_success: null },
        'first-format-ok': { last_session: { ...S1, ok: true }, last_success: T1 },
        'no-success-yet': { last_session: { ...S1, ok: false } },
        'bad-time': { last_session: { time: 'yesterday', storage: 'primary', ok: true }, last_success: null },
        'bad-ok': { last_session: { ...S1, ok: 'yes' }, last_success: null },
        'bad-success': { last_session: { ...S1, ok: true }, last_success: 5 },
        'not-an-object': 3,
      },
    });
    expect(parseLastBackups(text)).toEqual({
      good: { last_session: { ...S1, ok: true, outcome: 'ok' }, last_success: T1 },
      failed: { last_session: { ...S1, ok: false, ...FAILED }, last_success: null },
      'first-format-ok': { last_session: { ...S1, ok: true, outcome: 'ok' }, last_success: T1 },
      'no-success-yet': { last_session: { ...S1, ok: false, outcome: 'failed' }, last_success: null },
    });
    for (const bad of ['', '{', '[]', '{"sources": []}', 'null']) expect(parseLastBackups(bad)).toBeUndefined();
  });

  it('reads missing as unknown and starts afresh over a damaged file', async () => {
    const dir = await tempDir();
    expect(await readLastBackups(dir)).toBeUndefined();
    await writeFile(join(dir, LAST_BACKUPS_FILE), 'not json');
    expect(await readLastBackups(dir)).toBeUndefined();
    await recordSession(dir, S1, { etc: OK });
    expect(await readLastBackups(dir)).toEqual({
      etc: { last_session: { ...S1, ok: true, outcome: 'ok' }, last_success: T1 },
    });
    expect(await readFile(join(dir, LAST_BACKUPS_FILE), 'utf8')).toMatch(/^\{\n {4}"sources": \{\n/);
  });
});
