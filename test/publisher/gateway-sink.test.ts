/**
 * The gateway sink against a fake gateway HTTP server that records requests
 * (the real-gateway e2e test lives in gateway-e2e.test.ts).
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventChannel, type OdinEvent } from '../../src/lib/protocol/events.js';
import { EventGenerator } from '../../src/lib/publisher/generator.js';
import { afterPublisherRun } from '../testkit/publisher-run.js';
import { GatewaySink } from '../../src/lib/publisher/sinks/gateway-sink.js';

interface Recorded {
  path: string;
  apiKey: string | undefined;
  body: Record<string, unknown>;
}

interface PublishCommand {
  channel: string;
  data: OdinEvent;
  idempotency_key: string;
  tags: { type: string };
}

type Reply = (req: Recorded, res: ServerResponse) => void;

const okReply: Reply = (r, res) => {
  res.setHeader('content-type', 'application/json');
  if (r.path === '/api/batch') {
    const n = (r.body['commands'] as unknown[]).length;
    res.end(JSON.stringify({ replies: Array.from({ length: n }, (_, i) => ({ publish: { offset: i + 1, epoch: 'e' } })) }));
  } else res.end(JSON.stringify({ result: { offset: 1, epoch: 'e' } }));
};

class FakeGateway {
  readonly requests: Recorded[] = [];
  reply: Reply = okReply;
  private server: Server | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  commands(): PublishCommand[] {
    const out: PublishCommand[] = [];
    for (const r of this.requests) {
      if (r.path === '/api/publish') out.push(r.body as unknown as PublishCommand);
      else if (r.path === '/api/batch') for (const c of r.body['commands'] as { publish: PublishCommand }[]) out.push(c.publish);
    }
    return out;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (req.url === '/health') {
      res.end('{"status":"healthy"}');
      return;
    }
    const rec: Recorded = {
      path: req.url ?? '',
      apiKey: req.headers['x-api-key'] as string | undefined,
      body: JSON.parse(text) as Record<string, unknown>,
    };
    this.requests.push(rec);
    this.reply(rec, res);
  }
}

function events(n: number): OdinEvent[] {
  const gen = new EventGenerator({ seed: 5, now: Date.now() });
  gen.setTokens(['BTC', 'ETH'], Date.now());
  gen.setWeights({ trade: 1, balances: 1, price: 1 });
  return Array.from({ length: n }, () => gen.next(Date.now()));
}

describe('GatewaySink (fake gateway)', () => {
  const gw = new FakeGateway();
  before(() => gw.start());
  after(() => gw.stop());

  it('one event → POST /api/publish with channel, data, idempotency_key, tags and X-API-Key', async () => {
    gw.requests.length = 0;
    const sink = new GatewaySink({ url: gw.url, apiKey: 'secret' });
    await sink.connect();
    assert.equal(sink.isConnected(), true);
    const [e] = events(1);
    const r = await sink.publish([e!]);
    assert.deepEqual(r, { published: 1, failed: 0 });
    assert.equal(gw.requests.length, 1);
    const req = gw.requests[0]!;
    assert.equal(req.path, '/api/publish');
    assert.equal(req.apiKey, 'secret');
    assert.deepEqual(req.body, { channel: eventChannel(e!), data: e, idempotency_key: e!.id, tags: { type: e!.type } });
    await sink.close();
  });

  it('many events → /api/batch requests of at most maxBatch commands, in order', async () => {
    gw.requests.length = 0;
    const sink = new GatewaySink({ url: gw.url, maxBatch: 40 });
    const evs = events(100);
    const r = await sink.publish(evs);
    assert.deepEqual(r, { published: 100, failed: 0 });
    assert.deepEqual(
      gw.requests.map((q) => (q.body['commands'] as unknown[]).length),
      [40, 40, 20],
    );
    assert.equal(gw.requests[0]!.apiKey, undefined);
    const cmds = gw.commands();
    assert.deepEqual(
      cmds.map((c) => c.data.id),
      evs.map((e) => e.id),
    );
    for (const c of cmds) {
      assert.equal(c.channel, eventChannel(c.data));
      assert.equal(c.idempotency_key, c.data.id);
      assert.equal(c.tags.type, c.data.type);
    }
    await sink.close();
  });

  it('counts per-command errors in a batch reply', async () => {
    gw.reply = (rec, res) => {
      const n = (rec.body['commands'] as unknown[]).length;
      res.end(
        JSON.stringify({
          replies: Array.from({ length: n }, (_, i) =>
            i % 2 === 0 ? { publish: {} } : { error: { code: 106, message: 'limit exceeded' } },
          ),
        }),
      );
    };
    try {
      const sink = new GatewaySink({ url: gw.url });
      const r = await sink.publish(events(10));
      assert.equal(r.published, 5);
      assert.equal(r.failed, 5);
      assert.match(r.error ?? '', /limit exceeded/);
      assert.equal(sink.isConnected(), true);
      await sink.close();
    } finally {
      gw.reply = okReply;
    }
  });

  it('HTTP 5xx / 401 fail the batch and mark the sink disconnected', async () => {
    for (const status of [500, 401]) {
      gw.reply = (_rec, res) => {
        res.statusCode = status;
        res.end('{"error":{"code":100,"message":"nope"}}');
      };
      const sink = new GatewaySink({ url: gw.url, probeIntervalMs: 60_000 });
      try {
        const r = await sink.publish(events(3));
        assert.equal(r.published, 0);
        assert.equal(r.failed, 3);
        assert.match(r.error ?? '', new RegExp(`HTTP ${status}`));
        assert.equal(sink.isConnected(), false);
      } finally {
        await sink.close();
        gw.reply = okReply;
      }
    }
  });

  it('an unreachable gateway fails the batch, never throws', async () => {
    const dead = new FakeGateway();
    await dead.start();
    const url = dead.url;
    await dead.stop();
    const sink = new GatewaySink({ url, probeIntervalMs: 60_000 });
    await sink.connect();
    assert.equal(sink.isConnected(), false);
    const r = await sink.publish(events(2));
    assert.equal(r.failed, 2);
    assert.match(r.error ?? '', /unreachable/);
    await sink.close();
  });

  it('publisher → fake gateway: every event published exactly once', async () => {
    gw.requests.length = 0;
    await afterPublisherRun(
      {
        sink: { kind: 'gateway', url: gw.url, apiKey: 'k' },
        messagesPerSecond: 1000,
        statsIntervalMs: 300,
      },
      async (pub, stats) => {
        assert.equal(stats.errors, 0);
        const cmds = gw.commands();
        assert.equal(cmds.length, stats.messagesPublished);
        assert.ok(cmds.length >= 1000);
        assert.equal(new Set(cmds.map((c) => c.idempotency_key)).size, cmds.length);
        assert.ok(gw.requests.every((r) => r.apiKey === 'k'));
        assert.ok(cmds.some((c) => c.channel === 'market.stats'));
        const health = (await (await fetch(`${pub.url}/health`)).json()) as Record<string, unknown>;
        assert.deepEqual(health['sink'], { kind: 'gateway', connected: true, target: gw.url });
      },
    );
  });
});
