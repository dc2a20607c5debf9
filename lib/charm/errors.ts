// Typed errors of the charm runtime. Hook-tool failures are classified by exit code and by the
// tool's `ERROR ...` line (docs/charm-runtime.md, "Hook tools") so charm code can catch "relation
// gone" or "not leader" without matching strings itself.

/** A hook tool exited non-zero. `message` is the tool's `ERROR ...` line. */
export class HookToolError extends Error {
  override name = 'HookToolError';
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly code: number,
    readonly stdout: string,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
  }
}

/** The relation is gone or unknown to this unit (`relation not found`). */
export class RelationNotFoundError extends HookToolError {
  override name = 'RelationNotFoundError';
}

/** A `secret-*` tool reported the secret (or one of its keys) as not found. */
export class SecretNotFoundError extends HookToolError {
  override name = 'SecretNotFoundError';
}

/** Permission denied, not the leader, or cannot write relation settings. */
export class AccessError extends HookToolError {
  override name = 'AccessError';
}

/** Exit code 2: the tool rejected our argv. This is a bug in the runtime or its caller. */
export class ToolUsageError extends HookToolError {
  override name = 'ToolUsageError';
}

/** An `action-*` tool was called outside an action. */
export class NotInActionError extends HookToolError {
  override name = 'NotInActionError';
}

/**
 * A hook tool call that cannot even start: Linux refuses an argv string over MAX_ARG_STRLEN
 * (128 KiB, its NUL included) or an argv over ARG_MAX (docs/charm-runtime.md). Nothing ran;
 * raised before spawning, so the message says which argument and what to do instead.
 */
export class ArgvLimitError extends Error {
  override name = 'ArgvLimitError';
  constructor(
    readonly tool: string,
    message: string,
  ) {
    super(message);
  }
}

/** The tool's `ERROR ...` line, or a fallback naming the exit status. */
export function errorLine(stderr: string, code: number): string {
  const lines = stderr.split('\n').map((line) => line.trim());
  return lines.find((line) => line.startsWith('ERROR')) ?? lines.find((line) => line !== '') ?? `exit status ${code}`;
}

/** Builds the most specific HookToolError for a failed tool run (docs/charm-runtime.md, "Hook tools"). */
export function classifyToolFailure(
  tool: string,
  args: readonly string[],
  result: { code: number; stdout: string; stderr: string },
): HookToolError {
  const message = errorLine(result.stderr, result.code);
  const parts = [tool, args, result.code, result.stdout, result.stderr, message] as const;
  // Checked before the exit-2 rule: an unknown `-r` id exits 2 but means "relation gone".
  if (/relation not found/i.test(message)) return new RelationNotFoundError(...parts);
  if (result.code === 2) return new ToolUsageError(...parts);
  if (/not running an action/i.test(message)) return new NotInActionError(...parts);
  if (tool.startsWith('secret-') && /not found/i.test(message)) return new SecretNotFoundError(...parts);
  if (/permission denied|not the leader|cannot write relation settings/i.test(message))
    return new AccessError(...parts);
  return new HookToolError(...parts);
}

/** The charm's configuration does not match its schema; the message names the bad key. */
export class CharmConfigError extends Error {
  override name = 'CharmConfigError';
}

/** An action's parameters do not match its schema; the message names the bad key. */
export class ParamsError extends Error {
  override name = 'ParamsError';
}

/** A relation databag does not match its schema; the message names the bad key. */
export class DatabagError extends Error {
  override name = 'DatabagError';
}

/** Thrown (by `ctx.fail` or charm code) to fail an action on purpose: action-fail, then exit 0. */
export class ActionFailure extends Error {
  override name = 'ActionFailure';
}
