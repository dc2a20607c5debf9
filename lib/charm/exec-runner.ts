// The production HookToolRunner: spawns the real hook tools (on PATH inside a hook) without a shell.
//
// Why node:child_process and not execa: measured bundled with esbuild (--bundle --platform=node
// --format=esm), median of 30-40 interleaved cold starts on the 2-core dev box: `node -e 0` 77 ms;
// a script that loads execa lazily (dynamic import) and runs one command 122-129 ms; the same with
// child_process.spawn 92 ms. execa costs ~30-37 ms per hook (its bundle is ~300 KB), far above our
// 10 ms budget, and we need none of its features: no shell, no streaming, no pipes between
// processes; just capture stdout/stderr, optional stdin, and the exit code.
import { spawn } from 'node:child_process';
import { HookToolError } from './errors.js';
import { type HookToolRunner, type ToolResult } from './runner.js';

export function createExecRunner(env: NodeJS.ProcessEnv = process.env): HookToolRunner {
  return {
    run(tool, args, stdin) {
      return new Promise<ToolResult>((resolve, reject) => {
        const child = spawn(tool, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
        child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
        child.on('error', (error: NodeJS.ErrnoException) => {
          const reason =
            error.code === 'ENOENT'
              ? `hook tool "${tool}" not found on PATH (hook tools exist only inside a Juju hook, action or juju exec)`
              : `cannot run hook tool "${tool}": ${error.message}`;
          reject(new HookToolError(tool, args, 127, '', '', `ERROR ${reason}`));
        });
        child.on('close', (code, signal) => {
          resolve({
            code: code ?? (signal ? 128 : 1),
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
          });
        });
        if (stdin !== undefined && child.stdin) {
          // A tool that exits without reading stdin must not crash us with EPIPE.
          child.stdin.on('error', () => undefined);
          child.stdin.end(stdin);
        }
      });
    },
  };
}
