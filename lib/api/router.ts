import type { z } from 'zod';

import {
  AgentPingCheckinRequest,
  AgentPingRestoreRequest,
  StoragePingCheckinRequest,
  StoragePingSourceUpdateRequest,
  StorageUpdateConfigRequest,
  UpdateConfigRequest,
  type View,
} from '../turku/protocol/api.js';
import { formatFirstIssue } from '../turku/protocol/issues.js';
import type { ApiContext } from './context.js';
import { ApiError } from './errors.js';
import { agentPingCheckin, agentPingRestore } from './views/agent-ping.js';
import { health } from './views/health.js';
import { storagePingCheckin, storagePingSourceUpdate, storageUpdateConfig } from './views/storage.js';
import { updateConfig } from './views/update-config.js';

/**
 * From a view name and a parsed JSON body to the response object: validation with the
 * protocol schemas (a 400 naming the first problem), then the view. Independent of HTTP, so
 * tests and the benchmark can drive the same path.
 */

interface Route<S extends z.ZodType> {
  readonly schema: S;
  readonly handle: (ctx: ApiContext, request: z.output<S>) => Promise<unknown>;
}

function route<S extends z.ZodType>(schema: S, handle: (ctx: ApiContext, request: z.output<S>) => Promise<unknown>) {
  return { schema, handle } as Route<z.ZodType>;
}

const ROUTES: Record<Exclude<View, 'health'>, Route<z.ZodType>> = {
  update_config: route(UpdateConfigRequest, updateConfig),
  agent_ping_checkin: route(AgentPingCheckinRequest, agentPingCheckin),
  agent_ping_restore: route(AgentPingRestoreRequest, agentPingRestore),
  storage_update_config: route(StorageUpdateConfigRequest, storageUpdateConfig),
  storage_ping_checkin: route(StoragePingCheckinRequest, storagePingCheckin),
  storage_ping_source_update: route(StoragePingSourceUpdateRequest, storagePingSourceUpdate),
};

/** Messages the spec gives verbatim; every other validation problem reads "Validation error: …". */
const VERBATIM =
  /^(Missing required |"machine" dict required$|Invalid type for "(sources|machine|storage)"|Invalid (machine )?UUID)/;

export async function dispatch(ctx: ApiContext, view: View, body: Record<string, unknown>): Promise<unknown> {
  if (view === 'health') return health(ctx);
  const { schema, handle } = ROUTES[view];
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const detail = formatFirstIssue(parsed.error);
    throw new ApiError(400, VERBATIM.test(detail) ? detail : `Validation error: ${detail}`);
  }
  return handle(ctx, parsed.data);
}
