/**
 * A receiver that never answers, for the fairness test and `scripts/bench_fairness.ts`: a TCP
 * server on 127.0.0.1 that accepts connections, reads what comes and never replies, so every
 * attempt to it waits for the agent's timeout.
 */

import { createServer } from "node:net";
import type { Socket } from "node:net";

/**
 * Starts a black hole on a free loopback port.
 *
 * @returns Its URL, how many connections it took, and `close()` (which also destroys its sockets).
 */
export async function startBlackHole(): Promise<{ url: string; connections: () => number; close: () => Promise<unknown> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {}); // Reset by the agent when its attempt times out.
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    connections: () => connections,
    close: () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      return closed;
    },
  };
}
