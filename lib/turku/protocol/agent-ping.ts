import * as z from 'zod';

import { SourceDescriptorMap } from './descriptor.js';

/**
 * The API's answers to turku-agent-ping (spec §2.3), apart from api.ts so that the agent's
 * program loads only what it parses: the check-in runs every 5 minutes on every machine, and
 * its start-up is most of its cost.
 */

/** The top-level `scheduled_sources` duplicate must be sent: pre-2020 agents quit without it. */
export const AgentPingCheckinResponse = z.looseObject({
  machine: z.looseObject({ scheduled_sources: SourceDescriptorMap }),
  scheduled_sources: SourceDescriptorMap,
});
export type AgentPingCheckinResponse = z.output<typeof AgentPingCheckinResponse>;

export const AgentPingRestoreResponse = z.looseObject({
  machine: z.looseObject({ sources: SourceDescriptorMap }),
});
export type AgentPingRestoreResponse = z.output<typeof AgentPingRestoreResponse>;
