import * as z from 'zod';

import { SourceDescriptorMap } from './descriptor.js';

/**
 * The API's answers to turku-agent-ping (docs/api.md, "The seven views"), apart from api.ts so that
 * the agent's program loads only what it parses: the check-in runs every 5 minutes on every
 * machine, and its start-up is most of its cost.
 *
 * Read tolerantly: only what the original API always sends is required, and unknown keys are
 * kept. The original answers a check-in with `{"machine": {"scheduled_sources": {…}}}` alone;
 * our API adds a top-level `scheduled_sources` copy for pre-2020 agents, which our agent
 * neither needs nor reads.
 */

export const AgentPingCheckinResponse = z.looseObject({
  machine: z.looseObject({ scheduled_sources: SourceDescriptorMap }),
  /** Sent by our API (pre-2020 agents quit without it), never by the original: not required. */
  scheduled_sources: z.unknown().optional(),
});
export type AgentPingCheckinResponse = z.output<typeof AgentPingCheckinResponse>;

export const AgentPingRestoreResponse = z.looseObject({
  machine: z.looseObject({ sources: SourceDescriptorMap }),
});
export type AgentPingRestoreResponse = z.output<typeof AgentPingRestoreResponse>;
