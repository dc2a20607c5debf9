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

describe('last-backups.json', () => {
  it('keeps the last success across a failed session and leaves other sources alone', () => {
    const first = withSession({}, ['etc', 'home'], { time: T1, storage: 'primary', ok: true });
    const second = withSession(first, ['etc'], { time: T2, storage: 'primary', ok: false });
    expect(second).toEqual({
      etc: { last_session: { time: T2, storage: 'primary', ok: false }, last_success: T1 },
      home: { last_session: { time: T1, storage: 'primary', ok: true }, last_success: T1 },
    });
    expect(withSession({}, ['new'], { time: T2, storage: 's', ok: false }).new!.last_success).toBeNull();
    expect(parseLastBackups(lastBackupsText(second))).toEqual(second);
  });

  it('parses leniently: bad entries are left out, a bad document is unknown', () => {
    const text = JSON.stringify({
      sources: {
        good: { last_session: { time: T1, storage: 'primary', ok: true }, last_success: T1 },
        'no-success-yet': { last_session: { time: T1, storage: 'primary', ok: false } },
        'bad-time': { last_session: { time: 'yesterday', storage: 'primary', ok: true }, last_success: null },
        'bad-ok': { last_session: { time: T1, storage: 'primary', ok: 'yes' }, last_success: null },
        'bad-success': { last_session: { time: T1, storage: 'primary', ok: true }, last_success: 5 },
        'not-an-object': 3,
      },
    });
    expect(parseLastBackups(text)).toEqual({
      good: { last_session: { time: T1, storage: 'primary', ok: true }, last_success: T1 },
      'no-success-yet': { last_session: { time: T1, storage: 'primary', ok: false }, last_success: null },
    });
    for (const bad of ['', '{', '[]', '{"sources": []}', 'null']) expect(parseLastBackups(bad)).toBeUndefined();
  });

  it('reads missing as unknown and starts afresh over a damaged file', async () => {
    const dir = await tempDir();
    expect(await readLastBackups(dir)).toBeUndefined();
    await writeFile(join(dir, LAST_BACKUPS_FILE), 'not json');
    expect(await readLastBackups(dir)).toBeUndefined();
    await recordSession(dir, ['etc'], { time: T1, storage: 'primary', ok: true });
    expect(await readLastBackups(dir)).toEqual({
      etc: { last_session: { time: T1, storage: 'primary', ok: true }, last_success: T1 },
    });
    expect(await readFile(join(dir, LAST_BACKUPS_FILE), 'utf8')).toMatch(/^\{\n {4}"sources": \{\n/);
  });
});
