import { PassThrough } from 'node:stream';

import { StdinProtocolError } from '../turku/protocol/stdin.js';
import { MAX_REQUEST_BYTES, readFrame } from './stdin-frame.js';

const REQUEST = '{"port": 51234, "sources": {"etc": {"username": "u", "password": "p"}}}';

test('the frame is parsed as soon as it is complete, and stdin stays open (its end means "session over")', async () => {
  const input = new PassThrough();
  const frame = readFrame(input);
  input.write(REQUEST.slice(0, 10));
  input.write(`${REQUEST.slice(10)}\n.`);
  input.write('\n');
  await expect(frame).resolves.toBe(REQUEST);
  expect(input.readableEnded).toBe(false);
  expect(input.destroyed).toBe(false);
});

test('a character split across chunks is decoded whole', async () => {
  const input = new PassThrough();
  const frame = readFrame(input);
  const bytes = Buffer.from('{"port": 1, "comment": "é"}\n.\n');
  const split = bytes.indexOf(0xc3) + 1;
  input.write(bytes.subarray(0, split));
  input.write(bytes.subarray(split));
  await expect(frame).resolves.toBe('{"port": 1, "comment": "é"}');
});

test('stdin closed before the terminator: what came is the frame (the original reads to end-of-file)', async () => {
  const input = new PassThrough();
  const frame = readFrame(input);
  input.end(REQUEST);
  await expect(frame).resolves.toBe(REQUEST);
});

test('a frame of exactly the limit is read; one byte more is refused', async () => {
  const exact = `{"port": 1, "pad": "${'x'.repeat(MAX_REQUEST_BYTES - 22)}"}`;
  expect(Buffer.byteLength(exact)).toBe(MAX_REQUEST_BYTES);
  const ok = new PassThrough();
  const read = readFrame(ok);
  ok.write(`${exact}\n.\n`);
  await expect(read).resolves.toBe(exact);

  const over = new PassThrough();
  const refused = readFrame(over);
  over.write(`${exact} \n.\n`);
  await expect(refused).rejects.toThrow(
    new StdinProtocolError(`request refused: over ${MAX_REQUEST_BYTES} bytes without its terminating "." line`),
  );
});

test('a stream without a terminator is refused at the limit and no more of it is read', async () => {
  const input = new PassThrough({ highWaterMark: 64 * 1024 });
  let consumed = 0;
  input.on('data', (chunk: Buffer) => (consumed += chunk.length));
  const frame = readFrame(input, { maxBytes: 100_000 });
  const outcome = frame.then(
    () => 'read',
    (error: unknown) => error,
  );
  const chunk = Buffer.alloc(16 * 1024, 'a');
  let written = 0;
  // Write as a client would, until the stream pushes back.
  while (written < 60 * 1024 * 1024 && input.write(chunk)) {
    written += chunk.length;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(String(await outcome)).toContain('request refused: over 100000 bytes');
  expect(consumed).toBeLessThanOrEqual(100_000 + chunk.length);
  expect(input.readableFlowing).toBe(false);
  expect(written).toBeLessThan(1024 * 1024);
});

test('a request not complete within the timeout is refused, naming what came', async () => {
  const input = new PassThrough();
  const started = Date.now();
  const frame = readFrame(input, { timeoutMs: 200 });
  input.write('{"port":');
  await expect(frame).rejects.toThrow(
    new StdinProtocolError('request refused: not complete within 0.2 s (8 bytes received)'),
  );
  expect(Date.now() - started).toBeGreaterThanOrEqual(190);
  expect(input.readableFlowing).toBe(false);
});

test('a complete request clears the timer', async () => {
  const input = new PassThrough();
  const frame = readFrame(input, { timeoutMs: 100 });
  input.write(`${REQUEST}\n.\n`);
  await expect(frame).resolves.toBe(REQUEST);
  await new Promise((resolve) => setTimeout(resolve, 200));
});
