// One way to close a unix-socket server that hook tools call through: stop listening and cut the
// calls still open. A net.Server's close waits for every open connection, and a hook killed
// mid-call (its process or its whole machine gone) never ends its own, so waiting would hold the
// close, and the process with it, forever.
import { type Server, type Socket } from 'node:net';

/** The open connections of one server, so that its close can cut them. */
export class OpenCalls {
  private readonly sockets = new Set<Socket>();

  /** Counts `socket` until it closes. */
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** Stops `server` listening, destroys every tracked socket, and resolves once it has closed. */
  async close(server: Server): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
