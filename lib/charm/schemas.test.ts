import * as zod from 'zod';
import * as z from 'zod/mini';
import { CharmConfigError, DatabagError, ParamsError } from './errors.js';
import { encodeDatabag, jsonField, parseActionParams, parseConfig, parseDatabag } from './schemas.js';

const config = z.object({
  port: z.int(),
  name: z._default(z.string(), 'turku'),
  debug: z.optional(z.boolean()),
});

describe('parseConfig', () => {
  test('returns the typed config with schema defaults filled', () => {
    expect(parseConfig(config, { port: 8080, debug: true })).toEqual({ port: 8080, name: 'turku', debug: true });
  });

  test('a wrong type names the key, the expected type and the value', () => {
    expect(() => parseConfig(config, { port: 'x' })).toThrow(
      new CharmConfigError('invalid config: port: expected number, got "x"'),
    );
  });

  test('a missing required option is named', () => {
    expect(() => parseConfig(config, {})).toThrow('invalid config: port: required');
  });

  test('refinement failures name the key too', () => {
    const ranged = z.object({ port: z.int().check(z.minimum(1), z.maximum(65535)) });
    expect(() => parseConfig(ranged, { port: 70000 })).toThrow(/^invalid config: port: /);
  });

  test('several bad keys are all reported', () => {
    expect(() => parseConfig(config, { port: 1.5, debug: 'yes' })).toThrow(
      /port: .*; debug: expected boolean, got "yes"/,
    );
  });
  test("full zod schemas work too (the runtime parses with the schema's own safeParse)", () => {
    const full = zod.object({ port: zod.int(), name: zod.string().default('turku') });
    expect(parseConfig(full, { port: 1 })).toEqual({ port: 1, name: 'turku' });
    expect(() => parseConfig(full, { port: 'x' })).toThrow(
      new CharmConfigError('invalid config: port: expected number, got "x"'),
    );
  });
});

describe('parseActionParams', () => {
  test('typed params; a bad one is a ParamsError naming it', () => {
    const params = z.object({ tag: z.string(), retries: z._default(z.int(), 3) });
    expect(parseActionParams(params, { tag: 'nightly' })).toEqual({ tag: 'nightly', retries: 3 });
    expect(() => parseActionParams(params, { tag: 5 })).toThrow(
      new ParamsError('invalid action parameters: tag: expected string, got 5'),
    );
  });

  test('unknown keys are named for strict schemas', () => {
    expect(() => parseActionParams(z.strictObject({ tag: z.string() }), { tag: 'a', extra: 1 })).toThrow(
      'invalid action parameters: extra: unknown key',
    );
  });

  test('nested keys are named by their dotted path', () => {
    const params = z.object({ target: z.object({ host: z.string() }) });
    expect(() => parseActionParams(params, { target: { host: 7 } })).toThrow('target.host: expected string, got 7');
  });
});

describe('databags', () => {
  const bag = z.object({
    'api-url': z.url(),
    'secret-id': z.optional(z.string()),
    sources: jsonField(z.array(z.object({ name: z.string(), path: z.string() }))),
  });

  test('strings stay strings, jsonField values are decoded and validated', () => {
    const parsed = parseDatabag(bag, {
      'api-url': 'https://api:8443/',
      sources: '[{"name":"etc","path":"/etc"}]',
      'private-address': '10.0.0.5',
    });
    expect(parsed).toEqual({ 'api-url': 'https://api:8443/', sources: [{ name: 'etc', path: '/etc' }] });
  });

  test('invalid JSON in a jsonField names the key', () => {
    expect(() => parseDatabag(bag, { 'api-url': 'https://api/', sources: '[{' })).toThrow(
      new DatabagError('invalid relation data: sources: expected JSON text'),
    );
  });

  test('a JSON value of the wrong shape names the nested key', () => {
    expect(() => parseDatabag(bag, { 'api-url': 'https://api/', sources: '[{"name":1,"path":"/"}]' })).toThrow(
      /invalid relation data: sources\.0\.name: expected string/,
    );
  });

  test('a missing key is named', () => {
    expect(() => parseDatabag(bag, { sources: '[]' })).toThrow('invalid relation data: api-url: required');
  });

  test('encodeDatabag JSON-encodes jsonField keys and drops absent optional keys', () => {
    const encoded = encodeDatabag(bag, { 'api-url': 'https://api/', sources: [{ name: 'etc', path: '/etc' }] });
    expect(encoded).toEqual({ 'api-url': 'https://api/', sources: '[{"name":"etc","path":"/etc"}]' });
    expect(parseDatabag(bag, encoded)).toEqual({ 'api-url': 'https://api/', sources: [{ name: 'etc', path: '/etc' }] });
  });

  test('encodeDatabag refuses non-string values outside jsonField', () => {
    expect(() => encodeDatabag(z.object({ count: z.number() }), { count: 3 })).toThrow(/count: not a string/);
  });
});
