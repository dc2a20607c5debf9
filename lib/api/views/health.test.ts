import { describe, expect, it, jest } from '@jest/globals';

import type { ApiContext } from '../context.js';
import type { Database, Row } from '../db/database.js';
import { health, HEALTH_COUNTS_MAX_AGE_MS } from './health.js';

/**
 * A PostgreSQL-like database (no count stamp): each counting statement is recorded (`statement`),
 * and so is each reading of the failed verifies (`verifies`), which no source has.
 */
function countingDatabase(machines: () => number) {
  const verifies = jest.fn((): Row[] => []);
  const counting = jest.fn(
    (): Row[] => [{ auth: 1, storage: 2, machine: machines(), source: 4, filter_set: 0, backup_log: 0 }] as Row[],
  );
  const statement = async (name: string) => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return name === 'turku_failed_verifies' ? verifies() : counting();
  };
  const db = {
    dialect: 'postgres',
    transaction: () => Promise.reject(new Error('not used')),
    statement,
    close: () => Promise.resolve(),
  } as unknown as Database;
  const ctx = { db, now: () => new Date(0), schedule: {} } as unknown as ApiContext;
  return { ctx, statement: counting, verifies };
}

describe('health counts without a count stamp', () => {
  it('are read once for requests that come together, and reused for a while', async () => {
    let machines = 3;
    const { ctx, statement, verifies } = countingDatabase(() => machines);
    const answers = await Promise.all([health(ctx), health(ctx), health(ctx)]);
    expect(statement).toHaveBeenCalledTimes(1);
    expect(verifies).toHaveBeenCalledTimes(1);
    expect(answers.map((answer) => answer.counts.machine)).toEqual([3, 3, 3]);
    machines = 5;
    expect((await health(ctx)).counts.machine).toBe(3);
    expect(statement).toHaveBeenCalledTimes(1);
    expect(verifies).toHaveBeenCalledTimes(1);
  });

  it('are read again once older than the limit', async () => {
    let machines = 3;
    const { ctx, statement, verifies } = countingDatabase(() => machines);
    const clock = jest.spyOn(performance, 'now');
    try {
      clock.mockReturnValue(1000);
      expect((await health(ctx)).counts.machine).toBe(3);
      machines = 5;
      clock.mockReturnValue(1000 + HEALTH_COUNTS_MAX_AGE_MS);
      expect((await health(ctx)).counts.machine).toBe(5);
      expect(statement).toHaveBeenCalledTimes(2);
      expect(verifies).toHaveBeenCalledTimes(2);
    } finally {
      clock.mockRestore();
    }
  });

  it('are not kept when the reading failed', async () => {
    const { ctx, statement } = countingDatabase(() => 3);
    statement.mockImplementationOnce(() => {
      throw new Error('connection lost');
    });
    await expect(health(ctx)).rejects.toThrow('connection lost');
    expect((await health(ctx)).counts.machine).toBe(3);
  });
});
