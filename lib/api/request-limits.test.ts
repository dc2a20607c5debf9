import { describe, expect, it } from '@jest/globals';

import { ApiRefusal } from './errors.js';
import { parseJsonBody } from './http.js';
import { checkSourceCount, containsNul, jsonShapeProblem, MAX_JSON_DEPTH, scanJson } from './request-limits.js';

const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

function refusal(run: () => unknown): { status: number; message: string } | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    if (!(error instanceof ApiRefusal)) throw error;
    return { status: error.status, message: error.message };
  }
}

describe('request body limits', () => {
  it('counts nesting on the text, without recursion, however deep', () => {
    expect(scanJson(deep(MAX_JSON_DEPTH), MAX_JSON_DEPTH, Infinity).depthExceeded).toBe(false);
    expect(scanJson(deep(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH, Infinity).depthExceeded).toBe(true);
    expect(jsonShapeProblem(deep(1_000_000))).toBe('nested deeper than 32 levels');
    // Brackets inside strings, escaped quotes included, are text.
    expect(jsonShapeProblem(JSON.stringify({ a: '[[[[\\"'.repeat(100) }))).toBeUndefined();
  });

  it('counts elements, so a body of a million tiny values is refused before parsing', () => {
    expect(scanJson('[1,2,{},[]]', 10, Infinity).elements).toBe(6);
    expect(jsonShapeProblem(`[${'{},'.repeat(100_000)}{}]`)).toBe('more than 200000 elements');
    expect(jsonShapeProblem(`[${'1,'.repeat(150_000)}1]`)).toBeUndefined();
  });

  it('finds NUL anywhere, in keys too, with its own stack', () => {
    let nested: unknown = 'a\u0000b';
    for (let i = 0; i < 200_000; i++) nested = [nested];
    expect(containsNul(nested)).toBe(true);
    expect(containsNul({ a: [{ 'k\u0000': 1 }] })).toBe(true);
    expect(containsNul({ a: [{ k: 'v' }], b: null, c: 1 })).toBe(false);
  });

  it('counts sources before anything validates them', () => {
    const sources = (count: number) =>
      Object.fromEntries(Array.from({ length: count }, (_, i) => [`s${i}`, 'not even an object']));
    expect(refusal(() => checkSourceCount({ machine: { sources: sources(3) } }, 3))).toBeUndefined();
    expect(refusal(() => checkSourceCount({ machine: { sources: sources(4) } }, 3))).toEqual({
      status: 400,
      message: 'Validation error: 4 sources for one machine; at most 3 are allowed',
    });
    // Other shapes are the schema's to refuse, with its own messages.
    for (const body of [{}, { machine: 'x' }, { machine: { sources: [1, 2, 3, 4] } }, { machine: { sources: null } }]) {
      expect(refusal(() => checkSourceCount(body, 3))).toBeUndefined();
    }
  });
});

describe('parseJsonBody', () => {
  const parse = (bytes: Uint8Array | string) =>
    refusal(() => parseJsonBody(typeof bytes === 'string' ? Buffer.from(bytes) : bytes));

  it('refuses what is not a UTF-8 JSON object, with a message', () => {
    expect(parse(Buffer.from([0x7b, 0xff, 0x7d]))).toEqual({
      status: 400,
      message: 'Invalid JSON: the body is not valid UTF-8',
    });
    expect(parse(Buffer.from([0x22, 0xc0, 0xaf, 0x22]))).toEqual({
      status: 400,
      message: 'Invalid JSON: the body is not valid UTF-8',
    });
    expect(parse(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))?.status).toBe(400);
    expect(parse('[{}]')).toEqual({ status: 400, message: 'Request body must be a JSON object' });
    expect(parse(`{"a":${deep(5000)}}`)).toEqual({
      status: 400,
      message: 'Invalid JSON: nested deeper than 32 levels',
    });
    expect(parse('{"a":')?.message).toMatch(/^Invalid JSON: /);
  });

  it('takes the last of duplicate keys and keeps "__proto__" a plain key', () => {
    expect(parseJsonBody(Buffer.from('{"a":1,"a":2}'))).toEqual({ a: 2 });
    const body = parseJsonBody(Buffer.from('{"__proto__":{"polluted":true}}'));
    expect(Object.getPrototypeOf(body)).toBe(Object.prototype);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});
