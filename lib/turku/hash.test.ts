import { crc32Of, hashedInt } from './hash.js';

describe('hashedInt (docs/domain.md, "Schedules" test vectors)', () => {
  test('matches the original for strings and bytes', () => {
    expect(hashedInt(1, 100, 'hello')).toBe(71);
    expect(hashedInt(1, 100, new Uint8Array([1, 2, 3]))).toBe(26);
    expect(hashedInt(1, 100, '')).toBe(1);
  });

  test('CRC-32 is unsigned and hashes strings as UTF-8', () => {
    expect(crc32Of('9bef0a75-5a9b-43f7-a66a-7e8c6d7ad91d')).toBe(4192485135);
    expect(crc32Of('é')).toBe(crc32Of(new Uint8Array([0xc3, 0xa9])));
  });

  test('rejects an empty or inverted range', () => {
    expect(() => hashedInt(5, 4, 'x')).toThrow(RangeError);
    expect(() => hashedInt(0.5, 4, 'x')).toThrow(RangeError);
  });
});
