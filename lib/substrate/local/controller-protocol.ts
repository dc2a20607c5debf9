// The local controller's protocol (docs/integration.md, "The local controller"): one JSON request
// per connection on the model's unix socket, one JSON line back. Requests are checked with zod;
// a request that does not parse gets `{ ok: false, error }` naming what was wrong.
import { join } from 'node:path';
import { z } from 'zod';

const settings = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));
const name = z.string().min(1);

export const controllerRequest = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({
    op: z.literal('deploy'),
    charm: name,
    app: name,
    config: settings.optional(),
    numUnits: z.number().int().min(0).optional(),
  }),
  z.object({ op: z.literal('deploy-bundle'), bundle: name, overlays: z.array(name).optional() }),
  z.object({ op: z.literal('add-unit'), app: name, count: z.number().int().min(1).default(1) }),
  z.object({ op: z.literal('remove-unit'), unit: name }),
  z.object({ op: z.literal('integrate'), a: name, b: name }),
  z.object({ op: z.literal('remove-relation'), a: name, b: name }),
  z.object({ op: z.literal('config'), app: name, values: settings.optional() }),
  z.object({
    op: z.literal('run'),
    unit: name,
    action: name,
    /** Typed values (`--params` file, the driver). */
    params: z.record(z.string(), z.unknown()).optional(),
    /** `key=value` arguments as typed on the command line, parsed as Juju parses them. */
    args: z.array(z.string()).optional(),
    stringArgs: z.boolean().optional(),
  }),
  z.object({ op: z.literal('exec'), unit: name, argv: z.array(z.string()).min(1) }),
  z.object({ op: z.literal('machine'), unit: name }),
  z.object({ op: z.literal('show-unit'), unit: name }),
  z.object({ op: z.literal('debug-log'), lines: z.number().int().min(1).optional() }),
  z.object({ op: z.literal('update-status') }),
  z.object({ op: z.literal('ping-agents') }),
  z.object({ op: z.literal('shutdown') }),
]);

export type ControllerRequest = z.input<typeof controllerRequest>;
export type ParsedRequest = z.output<typeof controllerRequest>;

export type ControllerResponse = { ok: true; result: unknown } | { ok: false; error: string };

/** The controller's files under the model's directory. */
export function controllerFiles(modelDir: string): { socket: string; pid: string; log: string; state: string } {
  return {
    socket: join(modelDir, 'controller.sock'),
    pid: join(modelDir, 'controller.pid'),
    log: join(modelDir, 'controller.log'),
    state: join(modelDir, 'model-state.json'),
  };
}

/** A request as the controller reads it, or the one-line reason it is not one. */
export function parseRequest(line: string): { request: ParsedRequest } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: 'bad request: not JSON' };
  }
  const parsed = controllerRequest.safeParse(value);
  if (parsed.success) return { request: parsed.data };
  const issue = parsed.error.issues[0];
  const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
  return { error: `bad request${where}: ${issue?.message ?? 'invalid'}` };
}
