// The hook tools' way out of an LXD machine. A hook's tool call inside the container reaches a
// unix socket that an LXD `proxy` device forwards to this relay on the host, which hands it on to
// the model simulator's tool server (lib/charm-testing/tool-server.ts). On the way, paths a tool
// reads (`--file PATH`, secret-add's `key#file=PATH`, absolute in the container since the tool
// shim resolves them) become the same file under the container's root as the host sees it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { OpenCalls } from '../../charm-testing/closing-server.js';

/** The tool call's arguments with file paths moved under `root` (the container's `/` on the host). */
export function hostFilePaths(args: readonly string[], root: string): string[] {
  const under = (path: string) => (path.startsWith('/') ? `${root}${path}` : path);
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--file' && i + 1 < args.length) {
      const path = args[++i]!;
      out.push(arg, path === '-' ? '-' : under(path));
    } else if (arg.startsWith('--file=') && arg !== '--file=-') {
      out.push(`--file=${under(arg.slice(7))}`);
    } else if (/^[^-=#][^=#]*#file=\//.test(arg)) {
      const at = arg.indexOf('#file=') + 6;
      out.push(arg.slice(0, at) + under(arg.slice(at)));
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Rewrites one request line (JSON) for the host; a line that is not a request passes unchanged. */
export function relayRequestLine(line: string, root: string): string {
  try {
    const request = JSON.parse(line) as { args?: unknown };
    if (!Array.isArray(request.args) || !request.args.every((a) => typeof a === 'string')) return line;
    return JSON.stringify({ ...request, args: hostFilePaths(request.args, root) });
  } catch {
    return line;
  }
}

export class ToolRelay {
  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    /** The calls under way, each its machine-side socket and the one to the tool server. */
    private readonly open: OpenCalls,
  ) {}

  /** Listens on `socketPath`, forwarding each call to `upstream` with paths under `root`. */
  static async start(socketPath: string, upstream: string, root: string): Promise<ToolRelay> {
    await rm(socketPath, { force: true });
    const open = new OpenCalls();
    const server = createServer((client) => {
      open.track(client);
      relay(client, upstream, root, open);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return new ToolRelay(server, socketPath, open);
  }

  /**
   * Stops listening and cuts the calls under way: the relay closes when its machine is gone, and
   * a call left open there (a hook killed mid-call) would otherwise hold the close, and the
   * process, forever.
   */
  async close(): Promise<void> {
    await this.open.close(this.server);
    await rm(this.socketPath, { force: true });
  }
}

/** Reads the client's request line, sends it rewritten upstream, pipes the answer back. */
function relay(client: Socket, upstream: string, root: string, open: OpenCalls): void {
  const chunks: Buffer[] = [];
  let sent = false;
  client.on('error', () => client.destroy());
  client.on('data', (chunk: Buffer) => {
    if (sent) return;
    chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    const newline = text.indexOf('\n');
    if (newline < 0) return;
    sent = true;
    const agent = createConnection(upstream);
    open.track(agent);
    agent.on('error', (error) => {
      client.end(`${JSON.stringify({ code: 1, stdout: '', stderr: `ERROR tool relay: ${error.message}\n` })}\n`);
    });
    agent.on('connect', () => agent.write(`${relayRequestLine(text.slice(0, newline), root)}\n`));
    agent.pipe(client);
  });
}
