import { describe, expect, test } from '@jest/globals';

import { bridgeName, gatewayAddress, inNamespace, machineAddress, namespaceName } from './network.js';

const subnet = { tag: '4a07', prefix: '10.74.7' };

describe('local substrate names and addresses', () => {
  test('machine N gets .N+1 on the model network; the gateway is .254', () => {
    expect(machineAddress(subnet, 0)).toBe('10.74.7.1');
    expect(machineAddress(subnet, 249)).toBe('10.74.7.250');
    expect(gatewayAddress(subnet)).toBe('10.74.7.254');
    expect(() => machineAddress(subnet, 250)).toThrow('the local substrate has room for machines 0-249, not 250');
    expect(() => machineAddress(subnet, -1)).toThrow('not -1');
  });

  test('namespaces and the bridge are named after the model network', () => {
    expect(bridgeName(subnet)).toBe('tkb4a07');
    expect(namespaceName(subnet, '3')).toBe('turku-local-4a07-m3');
    expect(namespaceName(subnet, '0/lxd/1')).toBe('turku-local-4a07-m0-lxd-1');
    expect(inNamespace('turku-local-4a07-m3', ['sh', '-c', 'id'])).toEqual([
      'netns',
      'exec',
      'turku-local-4a07-m3',
      'sh',
      '-c',
      'id',
    ]);
  });
});
