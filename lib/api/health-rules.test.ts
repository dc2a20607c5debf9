import { describe, expect, it } from '@jest/globals';

import { isMachineHealthy, isSourceHealthy, isStorageHealthy } from './health-rules.js';

const MS = 1;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const now = new Date('2024-06-15T12:00:00Z');
/** The instant `ms` milliseconds before `now`. */
const ago = (ms: number): Date => new Date(now.getTime() - ms);
const LONG_AGO = ago(30 * 24 * HOUR);

describe('isStorageHealthy (docs/api.md, "Health rules": registered or checked in < 30 min ago)', () => {
  it('registered just under 30 minutes ago is healthy without a check-in', () => {
    expect(isStorageHealthy({ date_registered: ago(30 * MINUTE - MS), date_checked_in: null }, now)).toBe(true);
    expect(isStorageHealthy({ date_registered: now, date_checked_in: null }, now)).toBe(true);
  });

  it('registered exactly 30 minutes ago (or earlier) without a check-in is unhealthy', () => {
    expect(isStorageHealthy({ date_registered: ago(30 * MINUTE), date_checked_in: null }, now)).toBe(false);
    expect(isStorageHealthy({ date_registered: LONG_AGO, date_checked_in: null }, now)).toBe(false);
  });

  it('an old storage is healthy while its last check-in is under 30 minutes old', () => {
    expect(isStorageHealthy({ date_registered: LONG_AGO, date_checked_in: ago(30 * MINUTE - MS) }, now)).toBe(true);
    expect(isStorageHealthy({ date_registered: LONG_AGO, date_checked_in: ago(30 * MINUTE) }, now)).toBe(false);
  });

  it('uses 30 minutes for check-ins, not the machine limit of 10 h', () => {
    expect(isStorageHealthy({ date_registered: LONG_AGO, date_checked_in: ago(5 * HOUR) }, now)).toBe(false);
  });
});

describe('isMachineHealthy (docs/api.md, "Health rules": registered < 1 h ago or checked in < 10 h ago)', () => {
  it('registered just under an hour ago is healthy without a check-in', () => {
    expect(isMachineHealthy({ date_registered: ago(HOUR - MS), date_checked_in: null }, now)).toBe(true);
    expect(isMachineHealthy({ date_registered: ago(45 * MINUTE), date_checked_in: null }, now)).toBe(true);
  });

  it('registered exactly an hour ago without a check-in is unhealthy', () => {
    expect(isMachineHealthy({ date_registered: ago(HOUR), date_checked_in: null }, now)).toBe(false);
  });

  it('checked in just under 10 h ago is healthy; exactly 10 h ago is not', () => {
    expect(isMachineHealthy({ date_registered: LONG_AGO, date_checked_in: ago(10 * HOUR - MS) }, now)).toBe(true);
    expect(isMachineHealthy({ date_registered: LONG_AGO, date_checked_in: ago(10 * HOUR) }, now)).toBe(false);
  });

  it('either condition suffices', () => {
    // Registered 2 h ago (too old for the first rule) but checked in 9 h ago.
    expect(isMachineHealthy({ date_registered: ago(2 * HOUR), date_checked_in: ago(9 * HOUR) }, now)).toBe(true);
    // Checked in 11 h ago (too old) but registered 10 minutes ago.
    expect(isMachineHealthy({ date_registered: ago(10 * MINUTE), date_checked_in: ago(11 * HOUR) }, now)).toBe(true);
    expect(isMachineHealthy({ date_registered: ago(2 * HOUR), date_checked_in: ago(11 * HOUR) }, now)).toBe(false);
  });
});

describe('isSourceHealthy (docs/api.md, "Health rules": added < 4 h ago; otherwise success and now ≤ next + 10 h)', () => {
  const old = { date_added: LONG_AGO };

  it('a source added under 4 h ago is healthy even after a failure and long overdue', () => {
    expect(isSourceHealthy({ date_added: ago(4 * HOUR - MS), success: false, date_next_backup: LONG_AGO }, now)).toBe(
      true,
    );
  });

  it('a source added exactly 4 h ago falls under the other rule', () => {
    expect(isSourceHealthy({ date_added: ago(4 * HOUR), success: false, date_next_backup: now }, now)).toBe(false);
    expect(isSourceHealthy({ date_added: ago(4 * HOUR), success: true, date_next_backup: now }, now)).toBe(true);
  });

  it('a successful source is healthy up to and including 10 h after it was due', () => {
    expect(isSourceHealthy({ ...old, success: true, date_next_backup: ago(10 * HOUR) }, now)).toBe(true);
    expect(isSourceHealthy({ ...old, success: true, date_next_backup: ago(10 * HOUR - MS) }, now)).toBe(true);
    expect(isSourceHealthy({ ...old, success: true, date_next_backup: ago(10 * HOUR + MS) }, now)).toBe(false);
  });

  it('a successful source due in the future is healthy', () => {
    expect(isSourceHealthy({ ...old, success: true, date_next_backup: new Date(now.getTime() + HOUR) }, now)).toBe(
      true,
    );
  });

  it('a failed source is unhealthy even when not yet due', () => {
    expect(isSourceHealthy({ ...old, success: false, date_next_backup: new Date(now.getTime() + HOUR) }, now)).toBe(
      false,
    );
    expect(isSourceHealthy({ ...old, success: false, date_next_backup: now }, now)).toBe(false);
  });
});
