// The fake unit agent's side of the hook-tool transport: a unix socket plus a directory of real
// executables (one per tool name), so a charm's real `dispatch` process can call `relation-get`
// and friends against the fake. Like Juju's jujuc, each executable forwards its argv (and stdin
// for `--file -`) tagged with JUJU_CONTEXT_ID; the server hands the call to the HookToolRunner
// registered for that context. The tool semantics live in the runner, not here.
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HookToolRunner, type ToolResult } from '../charm/runner.js';
import { OpenCalls } from './closing-server.js';
import { HOOK_TOOL_NAMES } from './tools/index.js';

// Every tool the fake implements gets an executable in `toolsDir` (one list, in tools/index.ts).
export { HOOK_TOOL_NAMES };

/** What one tool executable sends: one JSON line. */
interface ToolRequest {
  contextId: string;
  tool: string;
  args: string[];
  stdin?: string;
  cwd?: string;
}

const SHIM_IN_REPO = join('lib', 'charm-testing', 'bin', 'hook-tool.cjs');

/**
 * The shim's path. tsc does not copy .cjs files to dist/, so look next to this module first
 * (running from lib/ under ts-jest) and then under the repository root (running from dist/lib/).
 */
export function hookToolShimPath(): string {
  const moduleDir = dirname(fileURLToPath(import.meta.url));
  const sibling = join(moduleDir, 'bin', 'hook-tool.cjs');
  if (existsSync(sibling)) return sibling;
  for (let dir = moduleDir; dir !== parse(dir).root; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, SHIM_IN_REPO))) return join(dir, SHIM_IN_REPO);
  }
  throw new Error(`hook-tool shim not found (looked for ${SHIM_IN_REPO} above ${moduleDir})`);
}

function parseRequest(line: string): ToolRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const request = value as Record<string, unknown>;
  const { contextId, tool, args, stdin } = request;
  if (typeof contextId !== 'string' || typeof tool !== 'string') return undefined;
  if (!Array.isArray(args) || !args.every((arg): arg is string => typeof arg === 'string')) return undefined;
  if (stdin !== undefined && typeof stdin !== 'string') return undefined;
  return { contextId, tool, args, ...(stdin === undefined ? {} : { stdin }) };
}

function errorResult(message: string): ToolResult {
  return { code: 1, stdout: '', stderr: `ERROR ${message}\n` };
}

export class ToolServer {
  private readonly runners = new Map<string, HookToolRunner>();
  private readonly openCalls = new OpenCalls();

  private constructor(
    private readonly server: Server,
    private readonly baseDir: string,
    /** The unix socket the tools connect to (JUJU_AGENT_SOCKET_ADDRESS). */
    readonly socketPath: string,
    /** Directory holding one executable per hook tool name; prefix it to PATH. */
    readonly toolsDir: string,
  ) {}

  /** Opens a socket in a fresh private temp dir (under `dir`, default the OS temp dir) and fills `toolsDir`. */
  static async start(options: { dir?: string } = {}): Promise<ToolServer> {
    const baseDir = await mkdtemp(join(options.dir ?? tmpdir(), 'juju-tools-'));
    try {
      await chmod(baseDir, 0o700);
      const toolsDir = join(baseDir, 'tools');
      await mkdir(toolsDir);
      // Executable copies of the shim named after each tool (argv[1]'s basename names the tool).
      // Measured: a copy, a symlink and a `#!/bin/sh exec node` wrapper all cost what node's own
      // start-up costs (~80 ms per call on the 2-core dev box); the wrapper adds a /bin/sh exec,
      // and a copy does not depend on the repository file's mode bits surviving a checkout.
      const shim = hookToolShimPath();
      await Promise.all(
        HOOK_TOOL_NAMES.map(async (name) => {
          await copyFile(shim, join(toolsDir, name));
          await chmod(join(toolsDir, name), 0o755);
        }),
      );
      const socketPath = join(baseDir, 'agent.socket');
      const server = createServer();
      const toolServer = new ToolServer(server, baseDir, socketPath, toolsDir);
      server.on('connection', (socket) => toolServer.serve(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return toolServer;
    } catch (error) {
      await rm(baseDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Routes tool calls carrying JUJU_CONTEXT_ID=`contextId` to `runner` (one hook or action). */
  register(contextId: string, runner: HookToolRunner): void {
    if (this.runners.has(contextId)) throw new Error(`hook context ${contextId} is already registered`);
    this.runners.set(contextId, runner);
  }

  /** Ends a context: later calls with its id fail as if no hook were running. */
  unregister(contextId: string): void {
    this.runners.delete(contextId);
  }

  /**
   * The variables a charm process needs to reach this server for `contextId`: the socket
   * variables and PATH with `toolsDir` first (Juju prefixes its tools dir the same way).
   */
  environment(contextId: string, path = process.env.PATH ?? ''): Record<string, string> {
    return {
      JUJU_AGENT_SOCKET_ADDRESS: this.socketPath,
      JUJU_AGENT_SOCKET_NETWORK: 'unix',
      JUJU_CONTEXT_ID: contextId,
      PATH: path === '' ? this.toolsDir : `${this.toolsDir}:${path}`,
    };
  }

  /**
   * Stops listening, cuts the calls under way (a tool killed mid-call never ends its own), drops
   * the contexts and removes the temp dir with the socket and tools.
   */
  async close(): Promise<void> {
    this.runners.clear();
    await this.openCalls.close(this.server);
    await rm(this.baseDir, { recursive: true, force: true });
  }

  private serve(socket: Socket): void {
    const chunks: Buffer[] = [];
    let answered = false;
    this.openCalls.track(socket);
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (answered) return;
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) return;
      answered = true;
      void this.answer(text.slice(0, newline)).then((result) => socket.end(`${JSON.stringify(result)}\n`));
    });
  }

  private async answer(line: string): Promise<ToolResult> {
    const request = parseRequest(line);
    if (request === undefined) return errorResult('bad request: malformed hook tool request');
    const runner = this.runners.get(request.contextId);
    if (runner === undefined) return errorResult(`bad request: no hook context with id "${request.contextId}"`);
    if (!HOOK_TOOL_NAMES.includes(request.tool)) return errorResult(`bad request: unknown command: ${request.tool}`);
    try {
      return await runner.run(request.tool, request.args, request.stdin);
    } catch (error) {
      return errorResult(error instanceof Error ? error.message : String(error));
    }
  }
}
