import { containerName, containerPrefix, isModelContainer, modelOfContainer } from './container-names.js';

describe("a model's container names", () => {
  it('names a machine and a nested container machine after the model', () => {
    expect(containerName('local-1a2b3c', '3')).toBe('turku-local-1a2b3c-m3');
    expect(containerName('prod', '0/lxd/1')).toBe('turku-prod-m0-lxd-1');
    expect(containerPrefix('prod')).toBe('turku-prod-m');
  });

  it("tells a model's containers from those of a model whose name starts the same", () => {
    expect(isModelContainer('turku-a-m0', 'a')).toBe(true);
    expect(isModelContainer('turku-a-m0-lxd-2', 'a')).toBe(true);
    expect(isModelContainer('turku-a-m1-m2', 'a')).toBe(false);
    expect(isModelContainer('turku-a-m1-m2', 'a-m1')).toBe(true);
    expect(isModelContainer('turku-a-mx', 'a')).toBe(false);
    expect(isModelContainer('turku-ab-m0', 'a')).toBe(false);
  });

  it('reads the model back from every name it gives, and nothing from other names', () => {
    for (const [model, id] of [
      ['local-3351c9', '4'],
      ['a-m1', '2'],
      ['prod', '0/lxd/12'],
    ] as const) {
      expect(modelOfContainer(containerName(model, id))).toBe(model);
    }
    expect(modelOfContainer('web-1')).toBeUndefined();
    expect(modelOfContainer('turku-prod-m')).toBeUndefined();
    expect(modelOfContainer('turku-prod-mx')).toBeUndefined();
  });
});
