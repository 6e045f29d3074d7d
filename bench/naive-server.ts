/**
 * The naive baseline: a `ws` broadcast server written the obvious way — per publication, for
 * each subscriber, build the message object, JSON.stringify it, and `ws.send` it. No shared
 * encoding, no batching. It speaks enough of the Odin protocol for the load client
 * (subscribe → subscription_ack, pushes with type/channel/ts/data) and takes publications on
 * the same HTTP API shape as the gateway (/api/publish, /api/batch).
 *
 * Run as a process: `node dist/bench/naive-server.js` prints `listening <port>`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { WS_PATH } from '../src/lib/protocol/addresses.js';

interface Publish {
  channel: string;
  data: unknown;
}

export interface NaiveServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startNaiveServer(port = 0, host = '127.0.0.1'): Promise<NaiveServer> {
  const channels = new Map<string, Set<WebSocket>>();

  function publish(p: Publish): void {
    const subs = channels.get(p.channel);
    if (!subs) return;
    const type = p.channel.split('.')[1] ?? 'message';
    for (const ws of subs) {
      ws.send(JSON.stringify({ type, channel: p.channel, ts: Date.now(), data: p.data }));
    }
  }

  function api(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as Publish & { commands?: { publish: Publish }[] };
        if (req.url === '/api/batch') for (const c of body.commands ?? []) publish(c.publish);
        else publish(body);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"result":{}}');
      } catch {
        res.writeHead(400);
        res.end();
      }
    });
  }

  const server = createServer((req, res) => {
    if (req.method === 'POST' && (req.url === '/api/publish' || req.url === '/api/batch')) return api(req, res);
    res.writeHead(404);
    res.end();
  });
  // The Odin path, where the load client dials (loadtest/protocols.ts).
  const wss = new WebSocketServer({ server, path: WS_PATH.odin, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    const mine = new Set<string>();
    ws.on('message', (raw) => {
      let msg: { type?: string; data?: { channels?: string[] } };
      try {
        msg = JSON.parse(raw.toString()) as typeof msg;
      } catch {
        return;
      }
      if (msg.type !== 'subscribe') return;
      for (const ch of msg.data?.channels ?? []) {
        let set = channels.get(ch);
        if (!set) channels.set(ch, (set = new Set()));
        set.add(ws);
        mine.add(ch);
      }
      ws.send(JSON.stringify({ type: 'subscription_ack', subscribed: [...mine], count: mine.size }));
    });
    ws.on('close', () => {
      for (const ch of mine) channels.get(ch)?.delete(ws);
    });
  });
  await new Promise<void>((r) => server.listen(port, host, r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close();
        server.close(() => r());
      }),
  };
}

if (process.env.ODIN_NAIVE_SERVER === '1') {
  const s = await startNaiveServer(Number(process.env.PORT ?? 0));
  process.stdout.write(`listening ${s.port}\n`);
  process.on('SIGTERM', () => void s.close().then(() => process.exit(0)));
}
