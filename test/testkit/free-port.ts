import { createServer } from 'node:net';

/**
 * A port that was free a moment ago (bind to 0, read, close): only for a process that cannot be
 * told to pick its own port and report it. Someone else may take it before that process binds
 * it; nats-server picks its own (test/testkit/nats-server.ts).
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('no port'));
        return;
      }
      const port = addr.port;
      srv.close(() => resolve(port));
    });
  });
}
