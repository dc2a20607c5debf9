import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

import { frameText, StdinProtocolError } from '../turku/protocol/stdin.js';

/**
 * The largest request the forced command reads (bytes, terminator included). Real ones are under
 * 4 KiB (a port and one user name and password per source); anything this big is not an agent's.
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** How long an agent has to send its whole request once the forced command runs (seconds). */
export const DEFAULT_REQUEST_TIMEOUT_SECONDS = 30;

export interface ReadFrameOptions {
  readonly maxBytes?: number;
  readonly timeoutMs?: number;
}

/**
 * Reads the agent's request from ssh's stdin (docs/datapath.md). The agent keeps stdin open
 * after the terminator (its end means "session over"), so the frame is parsed as soon as it is
 * complete. A request over `maxBytes`, or not complete within `timeoutMs`, is refused with a
 * StdinProtocolError: reading stops there, so memory stays bounded whatever the client sends.
 */
export function readFrame(input: Readable, options: ReadFrameOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? MAX_REQUEST_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_SECONDS * 1000;
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let received = '';
    let bytes = 0;
    const stop = (): void => {
      clearTimeout(timer);
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
    const finish = (text: string): void => {
      stop();
      resolve(text);
    };
    const refuse = (message: string): void => {
      stop();
      reject(new StdinProtocolError(message));
    };
    const onData = (chunk: Buffer | string): void => {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += buffer.length;
      received += decoder.write(buffer);
      // Only a new line break can complete the frame; the search is over at most maxBytes plus a chunk.
      const text = buffer.includes(0x0a) ? frameText(received, false) : undefined;
      if (text !== undefined && Buffer.byteLength(text) <= maxBytes) return finish(text);
      if (bytes > maxBytes) refuse(`request refused: over ${maxBytes} bytes without its terminating "." line`);
    };
    const onEnd = (): void => finish(frameText(received + decoder.end(), true) ?? '');
    const onError = (error: Error): void => {
      stop();
      reject(error);
    };
    const timer = setTimeout(
      () => refuse(`request refused: not complete within ${timeoutMs / 1000} s (${bytes} bytes received)`),
      timeoutMs,
    );
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
  });
}

/** Resolves when the agent closes its end of the session. */
export function waitForEnd(input: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (input.readableEnded) return resolve();
    input.on('data', () => undefined);
    input.once('end', () => resolve());
    input.once('close', () => resolve());
    input.resume();
  });
}
