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
  StorageVerifyReportRequest,
  UpdateConfigLogin,
  type AnyView,
} from '../turku/protocol/api.js';
import type { ApiContext } from './context.js';
import { checkSourceCount, DEFAULT_MAX_SOURCES_PER_MACHINE } from './request-limits.js';
import { parseOrRefuse, UpdateConfigRequestShallow, type RequestAfterLogin } from './validation.js';
import { agentPingCheckin, agentPingRestore } from './views/agent-ping.js';
import { health } from './views/health.js';
import { storagePingCheckin, storagePingSourceUpdate, storageUpdateConfig } from './views/storage.js';
import { updateConfig } from './views/update-config.js';
import { storageVerifyReport } from './views/verify-report.js';

/**
 * From a view name and a parsed JSON body to the response object. Independent of HTTP, so tests
 * and the benchmark can drive the same path.
 *
 * Authentication comes before every shape rule (docs/api.md, "Authentication"), as in the original:
 * the router checks only the view's login schema (a 400 for absent credentials, the one refusal the
 * original makes before authenticating), and hands the view the full request as a function the view
 * calls once the caller is authenticated. So a caller without valid credentials gets 403
 * `Bad auth` whatever else is wrong with its request, and learns nothing from a 400.
 */

interface Route {
  readonly login: z.ZodType;
  readonly request: z.ZodType;
  readonly handle: (
    ctx: ApiContext,
    login: unknown,
    request: RequestAfterLogin<unknown>,
    body: Record<string, unknown>,
  ) => Promise<unknown>;
}

function route<L extends z.ZodType, R extends z.ZodType>(
  login: L,
  request: R,
  handle: (
    ctx: ApiContext,
    login: z.output<L>,
    request: RequestAfterLogin<z.output<R>>,
    body: Record<string, unknown>,
  ) => Promise<unknown>,
): Route {
  return { login, request, handle } as Route;
}

const ROUTES: Record<Exclude<AnyView, 'health'>, Route> = {
  update_config: route(UpdateConfigLogin, UpdateConfigRequestShallow, updateConfig),
  agent_ping_checkin: route(MachineLogin, AgentPingCheckinRequest, agentPingCheckin),
  agent_ping_restore: route(MachineLogin, AgentPingRestoreRequest, agentPingRestore),
  storage_update_config: route(StorageUpdateConfigLogin, StorageUpdateConfigRequest, storageUpdateConfig),
  storage_ping_checkin: route(StorageLogin, StoragePingCheckinRequest, storagePingCheckin),
  storage_ping_source_update: route(StorageLogin, StoragePingSourceUpdateRequest, storagePingSourceUpdate),
  // [NEW] docs/api.md, "storage_verify_report".
  storage_verify_report: route(StorageLogin, StorageVerifyReportRequest, storageVerifyReport),
};

export async function dispatch(ctx: ApiContext, view: AnyView, body: Record<string, unknown>): Promise<unknown> {
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
  return handle(ctx, credentials, requestAfterLogin, body);
}
