import { stdinFrame, STDIN_TERMINATOR } from './stdin-encode.js';
import { encodeStdinRequest, frameText, parseStdinRequest } from './stdin.js';

describe('stdinFrame', () => {
  it('is the frame encodeStdinRequest writes: one JSON line, then a line holding only "."', () => {
    const request = { verbose: true, action: 'checkin', port: 64951, sources: { a: { username: 'u', password: 'p' } } };
    expect(stdinFrame(request)).toBe(`${JSON.stringify(request)}\n.\n`);
    expect(stdinFrame(request)).toBe(encodeStdinRequest({ ...request, action: 'checkin' }));
    expect(STDIN_TERMINATOR).toBe('\n.\n');
    expect(parseStdinRequest(frameText(stdinFrame(request), false)!)).toEqual(request);
  });
});
