import { encodeStdinRequest, frameText, parseStdinRequest, StdinProtocolError } from './stdin.js';

const CHECKIN =
  '{"verbose": true, "action": "checkin", "port": 57123, "sources": {"etc": {"username": "95e60af5-93bd-44cf-8fd6-30f1f29d0da9", "password": "zdocJ2isAjIhKtJ0RlgLKOmxgJTeKd"}}}';

describe('framing', () => {
  test('the agent writes one JSON line and the "." terminator', () => {
    const encoded = encodeStdinRequest({ action: 'restore', port: 64951, verbose: true });
    expect(encoded).toBe('{"action":"restore","port":64951,"verbose":true}\n.\n');
  });

  test('newlines inside values stay escaped on the single line', () => {
    const encoded = encodeStdinRequest({ port: 1, sources: { 'a\nb': { username: 'u', password: 'p' } } });
    expect(encoded.split('\n')).toHaveLength(3);
  });

  test('a frame ends at a line that is "." after trailing whitespace is stripped', () => {
    expect(frameText(`${CHECKIN}\n. \t\r\nignored`, false)).toBe(CHECKIN);
    expect(frameText('{"port":\n1}\n.\n', false)).toBe('{"port":\n1}');
  });

  test('an open frame waits for more input; end-of-file closes it', () => {
    expect(frameText(`${CHECKIN}\n`, false)).toBeUndefined();
    expect(frameText(`${CHECKIN}\n.`, false)).toBeUndefined();
    expect(frameText(`${CHECKIN}\n.`, true)).toBe(CHECKIN);
    expect(frameText(CHECKIN, true)).toBe(CHECKIN);
  });

  test('what the agent encodes, the storage decodes', () => {
    const request = {
      port: 50000,
      action: 'checkin' as const,
      verbose: false,
      sources: { etc: { username: 'u', password: 'p' } },
    };
    expect(parseStdinRequest(frameText(encodeStdinRequest(request), false)!)).toEqual(request);
  });
});

describe('parseStdinRequest', () => {
  test('a full example', () => {
    expect(parseStdinRequest(CHECKIN)).toEqual(JSON.parse(CHECKIN));
  });

  test('a numeric string port is tolerated; a missing action means check-in', () => {
    expect(parseStdinRequest('{"port": "57123"}')).toEqual({ port: 57123, action: 'checkin' });
    expect(parseStdinRequest('{"port": 1, "action": "backup"}').action).toBe('checkin');
  });

  test.each([
    ['', 'session aborted'],
    ['{"port": 1', 'Invalid input JSON'],
    ['[1]', 'Invalid input JSON'],
    ['{}', 'Port required'],
    ['{"port": "x"}', 'Invalid port'],
    ['{"port": null}', 'Port required'],
    ['{"port": 0}', 'Invalid port'],
    ['{"port": 65536}', 'Invalid port'],
  ])('%j: %s', (text, message) => {
    expect(() => parseStdinRequest(text)).toThrow(new StdinProtocolError(message));
  });
});
