// Dispatches a hook-tool name to its fake implementation and turns failures into Juju's
// exit codes and one-line `ERROR ...` stderr (docs/charm-runtime.md, "Hook tools").
import { type ToolResult } from '../../charm/runner.js';
import { actionFail, actionGet, actionLog, actionSet } from './action.js';
import { applicationVersionSet, configGet, statusGet, statusSet } from './config-status.js';
import { type ToolContext } from './context.js';
import { HelpRequested, ToolError } from './flags.js';
import { isLeaderTool, jujuLog, leaderGet, leaderSet } from './leader-log.js';
import { goalState } from './goal-state.js';
import { closePort, networkGet, openPort, openedPorts, unitGet } from './network-ports.js';
import { relationGet, relationIds, relationList, relationSet } from './relation.js';
import {
  secretAdd,
  secretGet,
  secretGrant,
  secretIds,
  secretInfoGet,
  secretRemove,
  secretRevoke,
  secretSet,
} from './secret.js';
import { stateDelete, stateGet, stateSet } from './state.js';
import { storageAdd, storageGet, storageList } from './storage.js';

/** One tool: parses argv like Juju, returns its stdout, throws ToolError to fail. */
export type ToolImpl = (ctx: ToolContext, args: readonly string[], stdin: string | undefined) => string;

const TOOLS: Record<string, ToolImpl> = {
  'relation-get': relationGet,
  'relation-set': relationSet,
  'relation-ids': relationIds,
  'relation-list': relationList,
  'config-get': configGet,
  'status-set': statusSet,
  'status-get': statusGet,
  'application-version-set': applicationVersionSet,
  'action-get': actionGet,
  'action-set': actionSet,
  'action-fail': actionFail,
  'action-log': actionLog,
  'is-leader': isLeaderTool,
  'leader-get': leaderGet,
  'leader-set': leaderSet,
  'juju-log': jujuLog,
  'state-get': stateGet,
  'state-set': stateSet,
  'state-delete': stateDelete,
  'open-port': openPort,
  'close-port': closePort,
  'opened-ports': openedPorts,
  'unit-get': unitGet,
  'network-get': networkGet,
  'secret-add': secretAdd,
  'secret-get': secretGet,
  'secret-set': secretSet,
  'secret-grant': secretGrant,
  'secret-revoke': secretRevoke,
  'secret-remove': secretRemove,
  'secret-ids': secretIds,
  'secret-info-get': secretInfoGet,
  'storage-get': storageGet,
  'storage-list': storageList,
  'storage-add': storageAdd,
  'goal-state': goalState,
};

/** Every hook tool the fake implements (the tool server creates one executable per name). */
export const HOOK_TOOL_NAMES: readonly string[] = Object.keys(TOOLS).sort();

/** Runs `tool` in `ctx`; unknown tools fail like a missing executable (exit 127). */
export function runTool(ctx: ToolContext, tool: string, args: readonly string[], stdin?: string): ToolResult {
  const impl = TOOLS[tool];
  if (impl === undefined) return { code: 127, stdout: '', stderr: `${tool}: command not found\n` };
  ctx.warnings = [];
  const warnings = (): string => ctx.warnings.join('');
  try {
    const stdout = impl(ctx, args, stdin);
    return { code: 0, stdout, stderr: warnings() };
  } catch (error) {
    if (error instanceof HelpRequested) return { code: 0, stdout: `Usage: ${tool} [options]\n`, stderr: '' };
    if (error instanceof ToolError)
      return { code: error.code, stdout: '', stderr: `${warnings()}ERROR ${error.message}\n` };
    const message = error instanceof Error ? error.message : String(error);
    return { code: 1, stdout: '', stderr: `${warnings()}ERROR ${message}\n` };
  }
}
