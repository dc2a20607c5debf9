import type { Readable } from 'node:stream';

import { frameText } from '../turku/protocol/stdin.js';

/**
 * Reads the agent's request from ssh's stdin (spec §3.3). The agent keeps stdin open after the
 * terminator (its end means "session over"), so the frame is parsed as soon as it is complete.
 */
export function readFrame(input: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    let received = '';
    const finish = (text: string): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', reject);
      input.pause();
      resolve(text);
    };
    const onData = (chunk: Buffer | string): void => {
      received += chunk.toString();
      const text = frameText(received, false);
      if (text !== undefined) finish(text);
    };
    const onEnd = (): void => finish(frameText(received, true) ?? '');
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', reject);
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
