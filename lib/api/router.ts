import type { z } from 'zod';

import {
  AgentPingCheckinRequest,
  AgentPingRestoreRequest,
  MachineLogin,
  StorageLogin,
  StoragePingCheckinRequest,
  StoragePingSourceUpdateRequest,
  StorageUpdateConfigLogin,
  StorageUpdateConfigRequest,
  UpdateConfigLogin,
  UpdateConfigRequest,
  type View,
} from '../turku/protocol/api.js';
import { formatFirstIssue } from '../turku/protocol/issues.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { checkSourceCount, containsNul, DEFAULT_MAX_SOURCES_PER_MACHINE } from './request-limits.js';
import { agentPingCheckin, agentPingRestore } from './views/agent-ping.js';
import { health } from './views/health.js';
import { storagePingCheckin, storagePingSourceUpdate, storageUpdateConfig } from './views/storage.js';
import { updateConfig } from './views/update-config.js';

/**
 * From a view name and a parsed JSON body to the response object. Independent of HTTP, so tests
 * and the benchmark can drive the same path.
 *
 * Authentication comes before every shape rule (spec §2.2), as in the original: the router
 * checks only the view's login schema (a 400 for absent credentials, the one refusal the
 * original makes before authenticating), and hands the view the full request as a function the
 * view calls once the caller is authenticated. So a caller without valid credentials gets 403
 * `Bad auth` whatever else is wrong with its request, and learns nothing from a 400.
 */

/** The validated request; throws the 400 naming its first problem. Call it after authenticating. */
export type RequestAfterLogin<T> = () => T;

interface Route {
  readonly login: z.ZodType;
  readonly request: z.ZodType;
  readonly handle: (ctx: ApiContext, login: unknown, request: RequestAfterLogin<unknown>) => Promise<unknown>;
}

function route<L extends z.ZodType, R extends z.ZodType>(
  login: L,
  request: R,
  handle: (ctx: ApiContext, login: z.output<L>, request: RequestAfterLogin<z.output<R>>) => Promise<unknown>,
): Route {
  return { login, request, handle } as Route;
}

const ROUTES: Record<Exclude<View, 'health'>, Route> = {
  update_config: route(UpdateConfigLogin, UpdateConfigRequest, updateConfig),
  agent_ping_checkin: route(MachineLogin, AgentPingCheckinRequest, agentPingCheckin),
  agent_ping_restore: route(MachineLogin, AgentPingRestoreRequest, agentPingRestore),
  storage_update_config: route(StorageUpdateConfigLogin, StorageUpdateConfigRequest, storageUpdateConfig),
  storage_ping_checkin: route(StorageLogin, StoragePingCheckinRequest, storagePingCheckin),
  storage_ping_source_update: route(StorageLogin, StoragePingSourceUpdateRequest, storagePingSourceUpdate),
};

/** Messages the spec gives verbatim; every other validation problem reads "Validation error: …". */
const VERBATIM =
  /^(Missing required |"machine" dict required$|Invalid type for "(sources|machine|storage)"|Invalid (machine )?UUID)/;

export async function dispatch(ctx: ApiContext, view: View, body: Record<string, unknown>): Promise<unknown> {
  if (view === 'health') return health(ctx);
  const { login, request, handle } = ROUTES[view];
  const credentials = parseOrRefuse(login, body);
  let parsed: { value: unknown } | undefined;
  const requestAfterLogin = () => {
    // Counted before the whole request is validated, which is work in proportion to its size.
    if (view === 'update_config') {
      checkSourceCount(body, ctx.maxSourcesPerMachine ?? DEFAULT_MAX_SOURCES_PER_MACHINE);
    }
    parsed ??= { value: parseOrRefuse(request, body, { noNul: true }) };
    return parsed.value;
  };
  return handle(ctx, credentials, requestAfterLogin);
}

function parseOrRefuse(schema: z.ZodType, body: Record<string, unknown>, options: { noNul?: boolean } = {}): unknown {
  // PostgreSQL cannot store NUL in text, and no Turku field has a use for it.
  if (options.noNul === true && containsNul(body)) {
    throw new ApiError(400, 'Validation error: text must not contain NUL characters');
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const detail = formatFirstIssue(parsed.error);
    throw new ApiError(400, VERBATIM.test(detail) ? detail : `Validation error: ${detail}`);
  }
  return parsed.data;
}
