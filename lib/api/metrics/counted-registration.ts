import type { ApiContext } from '../context.js';

/**
 * Runs a view's transaction and counts it as a registration (docs/api.md, "Metrics") when its last
 * run found the caller unknown: `registering.now`, set by the transaction, says so.
 */
export async function countedRegistration<T>(
  ctx: Pick<ApiContext, 'metrics'>,
  kind: 'machine' | 'storage',
  registering: { now: boolean },
  work: () => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    if (registering.now) ctx.metrics?.instruments.registration(kind, 'refused');
    throw error;
  }
  if (registering.now) ctx.metrics?.instruments.registration(kind, 'registered');
  return result;
}
