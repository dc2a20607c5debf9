// The production HookToolRunner: runs the real hook tools (on PATH inside a hook) without a shell.
//
// Why node:child_process and not execa: measured bundled with esbuild, median of 30-40
// interleaved cold starts on the 2-core dev box: `node -e 0` 77 ms; a script that loads execa
// lazily and runs one command 122-129 ms; the same with child_process 92 ms. execa costs ~30-37 ms
// per hook and we need none of its features: no shell, no streaming, no pipes between processes.
//
// Why spawnSync: the asynchronous spawn's pipes load Node's stream and socket modules, about 5 ms
// of every hook's cold start (bench/dispatch), while spawnSync captures output natively. Hook
// tools answer in milliseconds and a hook calls them one after another anyway, so blocking the
// event loop for the call costs nothing; the Promise keeps the runner's interface.
import { spawnSync } from 'node:child_process';
import { HookToolError } from './errors.js';
import { type HookToolRunner, type ToolResult } from './runner.js';

// Relation data and secret content can be large; never truncate a tool's answer.
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

export function createExecRunner(env: NodeJS.ProcessEnv = process.env): HookToolRunner {
  return {
    run(tool, args, stdin) {
      const result = spawnSync(tool, args, {
        env,
        encoding: 'utf8',
        maxBuffer: MAX_OUTPUT_BYTES,
        ...(stdin === undefined ? { stdio: ['ignore', 'pipe', 'pipe'] } : { input: stdin }),
      });
      const error = result.error as NodeJS.ErrnoException | undefined;
      if (error !== undefined) {
        const reason =
          error.code === 'ENOENT'
            ? `hook tool "${tool}" not found on PATH (hook tools exist only inside a Juju hook, action or juju exec)`
            : `cannot run hook tool "${tool}": ${error.message}`;
        return Promise.reject(new HookToolError(tool, args, 127, '', '', `ERROR ${reason}`));
      }
      const toolResult: ToolResult = {
        code: result.status ?? (result.signal ? 128 : 1),
        stdout: result.stdout,
        stderr: result.stderr,
      };
      return Promise.resolve(toolResult);
    },
  };
}
