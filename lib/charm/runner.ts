// The seam between charm code and Juju: every hook tool call goes through a HookToolRunner.
// Production spawns the real tools with node:child_process's spawnSync (exec-runner.ts says why
// not execa); tests plug in the fake from lib/charm-testing, which parses the same argv, so
// argument building is tested too.

/** What one hook-tool invocation returned. `code` 0 is success, 2 a usage error, 1 a runtime error. */
export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HookToolRunner {
  /** Runs `tool` (e.g. "relation-get") with `args`; `stdin` is sent whole when given (for `--file -`). */
  run(tool: string, args: readonly string[], stdin?: string): Promise<ToolResult>;
}

/** Everything a charm process sees: its environment, the hook tools, and its standard streams. */
export interface CharmIo {
  env: Readonly<Record<string, string | undefined>>;
  runner: HookToolRunner;
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A charm's entry point run in-process: returns the exit code `dispatch` would have exited with. */
export type InProcessCharm = (io: CharmIo) => Promise<number>;
