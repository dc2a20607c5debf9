import fc from 'fast-check';

import {
  ALLOWANCE_PORT_MAX,
  ALLOWANCE_PORT_MIN,
  TUNNEL_ALLOWANCE_SIZE,
  tunnelAllowance,
  tunnelPortsProblem,
  usableTunnelPorts,
} from './tunnel-allowance.js';

const UUID = '0d9c7e55-3f4a-4d8e-9b1c-2a3b4c5d6e7f';

function inRange(port: number): boolean {
  return Number.isInteger(port) && port >= ALLOWANCE_PORT_MIN && port <= ALLOWANCE_PORT_MAX;
}

test('four distinct ports in the dynamic range, the same every time for one machine', () => {
  const ports = tunnelAllowance(UUID);
  expect(ports).toHaveLength(TUNNEL_ALLOWANCE_SIZE);
  expect(new Set(ports).size).toBe(TUNNEL_ALLOWANCE_SIZE);
  expect(ports.every(inRange)).toBe(true);
  expect(tunnelAllowance(UUID)).toEqual(ports);
  expect(tunnelAllowance('7e3f0a11-9c2d-4b6a-8e5f-1d2c3b4a5f60')).not.toEqual(ports);
});

test('ports other machines of the storage hold are never chosen while enough are free', () => {
  fc.assert(
    fc.property(
      fc.uuid(),
      fc.uniqueArray(fc.integer({ min: ALLOWANCE_PORT_MIN, max: ALLOWANCE_PORT_MAX })),
      (uuid, held) => {
        const taken = new Set(held);
        const ports = tunnelAllowance(uuid, taken);
        expect(ports).toHaveLength(TUNNEL_ALLOWANCE_SIZE);
        expect(new Set(ports).size).toBe(TUNNEL_ALLOWANCE_SIZE);
        expect(ports.every(inRange)).toBe(true);
        expect(ports.some((port) => taken.has(port))).toBe(false);
      },
    ),
    { numRuns: 300 },
  );
});

test('a machine cannot be given the ports of another: its own ports are taken first', () => {
  const first = tunnelAllowance(UUID);
  // Whatever UUID the next machine has (even one chosen to hash to the same ports), it avoids them.
  expect(tunnelAllowance(UUID, new Set(first)).some((port) => first.includes(port))).toBe(false);
});

test('a crowded storage: the free ports are found by a scan; a full one shares ports', () => {
  const all = Array.from({ length: ALLOWANCE_PORT_MAX - ALLOWANCE_PORT_MIN + 1 }, (_, i) => ALLOWANCE_PORT_MIN + i);
  const free = [50000, 60001, 65535, 49152];
  const crowded = new Set(all.filter((port) => !free.includes(port)));
  expect(tunnelAllowance(UUID, crowded).sort()).toEqual([...free].sort());
  const full = tunnelAllowance(UUID, new Set(all));
  expect(new Set(full).size).toBe(TUNNEL_ALLOWANCE_SIZE);
  expect(full.every(inRange)).toBe(true);
});

test('a list from an API is used only if it is a short list of distinct unprivileged ports', () => {
  expect(tunnelPortsProblem([50000, 50001])).toBeUndefined();
  expect(usableTunnelPorts([50000, 50001])).toEqual([50000, 50001]);
  for (const bad of [
    null,
    '50000',
    [],
    [22],
    [50000, 50000],
    [50000.5],
    ['50000'],
    [70000],
    Array.from({ length: 17 }, (_, i) => 50000 + i),
  ]) {
    expect(tunnelPortsProblem(bad)).toEqual(expect.any(String));
    expect(usableTunnelPorts(bad)).toBeUndefined();
  }
});
