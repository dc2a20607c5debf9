import { hash, randomBytes } from 'node:crypto';

import { BoundedMemo } from './bounded-memo.js';
import { memoryBudgetBytes, type ApiContext } from './context.js';

/**
 * `update_config` bodies already accepted, per machine (docs/api.md, "update_config"): an agent
 * sends the same body every time its configuration is unchanged, and a body that passed every
 * shape rule once passes them again (the rules depend on nothing but the body and the API's
 * settings, and the memory is per API context). For a body identical to the machine's last accepted
 * one, the view reuses that validated request instead of validating it again. Only validation is
 * skipped: the login, the comparison with the stored rows and every write run as before.
 *
 * Bodies carry secrets, so what is kept of them is a keyed digest (the key is random and never
 * leaves the process) and the validated request without the machine's secret.
 */

/**
 * What a remembered request costs beyond its JSON text (a digest, the map's entry), and how many
 * times its JSON length the parsed objects take, estimated.
 */
const ACCEPTED_ENTRY_BYTES = 200;
const OBJECT_BYTES_PER_JSON_BYTE = 3;

const DIGEST_KEY = randomBytes(32).toString('base64');

interface Accepted<T> {
  readonly digest: string;
  readonly request: T;
}

/** Per context, within half of its `cache_memory_mb`. */
const remembered = new WeakMap<ApiContext, BoundedMemo<string, Accepted<unknown>>>();

function memoryOf(ctx: ApiContext): BoundedMemo<string, Accepted<unknown>> {
  let memory = remembered.get(ctx);
  if (memory === undefined) remembered.set(ctx, (memory = new BoundedMemo(memoryBudgetBytes(ctx))));
  return memory;
}

/** A keyed digest of a parsed JSON body: equal for equal bodies, useless outside this process. */
export function bodyDigest(body: unknown): string {
  // Equality is all that is asked of it, so a hash of key and body does (cheaper than an HMAC object).
  return hash('sha256', DIGEST_KEY + JSON.stringify(body), 'base64');
}

/** The validated request of the machine's last accepted body, when `digest` is that body's. */
export function acceptedRequest<T>(ctx: ApiContext, uuid: string, digest: string): T | undefined {
  const accepted = memoryOf(ctx).get(uuid);
  return accepted?.digest === digest ? (accepted.request as T) : undefined;
}

/** After a successful update_config: its body's digest and its validated request, secret removed. */
export function rememberAccepted<T extends { readonly secret?: unknown }>(
  ctx: ApiContext,
  uuid: string,
  digest: string,
  request: T,
): void {
  const memory = memoryOf(ctx);
  // The same body again (the common case): only its place among the recent ones changes.
  if (memory.get(uuid)?.digest === digest && memory.touch(uuid)) return;
  const kept = { ...request, secret: undefined };
  const cost = ACCEPTED_ENTRY_BYTES + OBJECT_BYTES_PER_JSON_BYTE * JSON.stringify(kept).length;
  memory.set(uuid, { digest, request: kept }, cost);
}
