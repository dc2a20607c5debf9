/**
 * Retry delay after the k-th consecutive failed backup (docs/api.md, "When a source is due"):
 * `initial × 2^(k−1)`, capped at `max`. With the defaults: 5, 10, 20, 40, 80, 160, 320, then 360
 * minutes. Success resets k.
 */
export interface BackoffSettings {
  /** Seconds before the first retry. */
  readonly initial: number;
  /** Longest wait, in seconds. */
  readonly max: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initial: 300, max: 21_600 };

export function retryDelaySeconds(failureCount: number, backoff: BackoffSettings = DEFAULT_BACKOFF): number {
  const exponent = Math.max(0, failureCount - 1);
  // 2^exponent overflows to Infinity long after it passes any sane cap; min() handles that.
  return Math.min(backoff.initial * 2 ** Math.min(exponent, 1024), backoff.max);
}
