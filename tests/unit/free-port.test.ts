// Jest workers running side by side pick test ports from disjoint slices (tests/support/processes.ts).
import { describe, expect, test } from '@jest/globals';

import { freePort, listenerPorts } from '../support/processes.js';

describe('listenerPorts', () => {
  const whole = listenerPorts('');

  test('outside Jest the whole range below the ephemeral ports', () => {
    const [low, high] = whole;
    expect(high - low + 1).toBe(12_000);
    expect(listenerPorts('zero')).toEqual(whole);
  });

  test('workers 1-8 get disjoint slices inside it; worker 9 shares worker 1 slice', () => {
    const slices = Array.from({ length: 8 }, (_, i) => listenerPorts(String(i + 1)));
    for (const [low, high] of slices) {
      expect(low).toBeGreaterThanOrEqual(whole[0]);
      expect(high).toBeLessThanOrEqual(whole[1]);
      expect(high - low + 1).toBe(1_500);
    }
    const sorted = [...slices].sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThan(sorted[i - 1]![1]);
    expect(listenerPorts('9')).toEqual(slices[0]);
  });

  test('freePort picks from this worker slice', async () => {
    const [low, high] = listenerPorts();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(low);
      expect(port).toBeLessThanOrEqual(high);
    }
  });
});
