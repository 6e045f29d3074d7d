import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram } from '../../src/lib/histogram/histogram.js';
import { centrifugeAdapter, natsAdapter, odinAdapter, Session, type Sink } from '../../src/lib/loadtest/protocols.js';
import { emptyCounts } from '../../src/lib/loadtest/sequence.js';
import { Rng } from '../../src/lib/core/rng.js';
import { benchPayload } from '../../src/lib/loadtest/publisher.js';
import { monoNowUs } from '../../src/lib/loadtest/scan.js';
import { readFrameHeader, encodeClientFrame, type FrameHeader, type WsClient } from '../../src/lib/loadtest/ws-client.js';

class FakeConn {
  readonly sent: string[] = [];
  sendText(t: string): void {
    this.sent.push(t);
  }
  sendBinary(b: Buffer): void {
    this.sent.push(b.toString());
  }
  close(): void {
    this.sent.push('<close>');
  }
}

function sink(): Sink & { subscribedSessions: number } {
  const s = {
    delivered: 0,
    latency: new LatencyHistogram(),
    seq: emptyCounts(),
    recovered: 0,
    notRecovered: 0,
    serverErrors: {} as Record<string, number>,
    rng: new Rng(1),
    subscribedSessions: 0,
    onSubscribed() {
      s.subscribedSessions++;
    },
  };
  return s;
}

function feed(adapter: typeof odinAdapter, conn: FakeConn, session: Session, k: Sink, text: string): void {
  const buf = Buffer.from('xx' + text + 'yy');
  adapter.onMessage(conn as unknown as WsClient, session, k, buf, 2, buf.length - 2);
}

test('odin: ack sets positions, pushes count, offsets find gaps, latency comes from the payload stamp', () => {
  const conn = new FakeConn();
  const s = new Session(0, ['BTC.trade'], true);
  const k = sink();
  odinAdapter.onOpen(conn as unknown as WsClient, s);
  assert.deepEqual(JSON.parse(conn.sent[0]!), { type: 'subscribe', data: { channels: ['BTC.trade'] } });
  feed(odinAdapter, conn, s, k, '{"type":"connected","client":"x"}');
  feed(
    odinAdapter,
    conn,
    s,
    k,
    JSON.stringify({
      type: 'subscription_ack',
      subscribed: ['BTC.trade'],
      count: 1,
      positions: { 'BTC.trade': { offset: 7, epoch: 'e', recoverable: true } },
    }),
  );
  assert.equal(k.subscribedSessions, 1);
  const t = monoNowUs() - 2000;
  for (const off of [8, 9, 11])
    feed(
      odinAdapter,
      conn,
      s,
      k,
      `{"type":"trade:new","channel":"BTC.trade","offset":${off},"epoch":"e","ts":1,"data":${benchPayload('BTC.trade', off, t)}}`,
    );
  assert.equal(k.delivered, 3);
  assert.deepEqual(k.seq, { inOrder: 2, missing: 1, duplicates: 0, gaps: 1 });
  assert.equal(k.latency.count, 3);
  assert.ok(k.latency.summary().p50 >= 2, 'latency at least the 2 ms the stamp is in the past');
  // Reconnect asks for recovery from the last offset; the ack says whether it worked.
  s.hadSession = true;
  odinAdapter.onOpen(conn as unknown as WsClient, s);
  assert.deepEqual(JSON.parse(conn.sent[1]!).data.positions, { 'BTC.trade': { offset: 11, epoch: 'e' } });
  feed(
    odinAdapter,
    conn,
    s,
    k,
    JSON.stringify({
      type: 'subscription_ack',
      subscribed: ['BTC.trade'],
      count: 1,
      positions: { 'BTC.trade': { offset: 11, epoch: 'e', recoverable: true, recovered: true, publications: 0 } },
    }),
  );
  assert.equal(k.recovered, 1);
});

test('odin: untracked connections only count; errors are tallied by code', () => {
  const conn = new FakeConn();
  const s = new Session(1, ['BTC.trade'], false);
  const k = sink();
  feed(odinAdapter, conn, s, k, '{"type":"trade","channel":"BTC.trade","offset":1,"data":{}}');
  feed(odinAdapter, conn, s, k, '{"type":"trade","channel":"BTC.trade","offset":5,"data":{}}');
  feed(odinAdapter, conn, s, k, '{"type":"error","code":111,"message":"too many requests"}');
  assert.equal(k.delivered, 2);
  assert.deepEqual(k.seq, emptyCounts());
  assert.deepEqual(k.serverErrors, { '111': 1 });
});

test('centrifuge: connect → subscribes, ping answered, several pushes in one frame, seq fallback without offsets', () => {
  const conn = new FakeConn();
  const s = new Session(0, ['A.trade', 'B.trade'], true);
  const k = sink();
  centrifugeAdapter.onOpen(conn as unknown as WsClient, s);
  assert.deepEqual(JSON.parse(conn.sent[0]!), { id: 1, connect: {} });
  feed(centrifugeAdapter, conn, s, k, '{"id":1,"connect":{"client":"c","version":"x"}}');
  const subs = conn.sent[1]!.split('\n').map((l) => JSON.parse(l) as { id: number; subscribe: { channel: string } });
  assert.deepEqual(
    subs.map((x) => x.subscribe.channel),
    ['A.trade', 'B.trade'],
  );
  feed(
    centrifugeAdapter,
    conn,
    s,
    k,
    `{"id":${subs[0]!.id},"subscribe":{"epoch":"E","offset":3,"recoverable":true}}\n{"id":${subs[1]!.id},"subscribe":{}}`,
  );
  assert.equal(k.subscribedSessions, 1);
  feed(centrifugeAdapter, conn, s, k, '{}');
  assert.equal(conn.sent.at(-1), '{}');
  feed(
    centrifugeAdapter,
    conn,
    s,
    k,
    [
      '{"push":{"channel":"A.trade","pub":{"data":{"s":1},"offset":4}}}',
      '{"push":{"channel":"A.trade","pub":{"data":{"s":2},"offset":6}}}',
      '{"push":{"channel":"B.trade","pub":{"data":{"s":1,"t":1}}}}',
      '{"push":{"channel":"B.trade","pub":{"data":{"s":2,"t":1}}}}',
    ].join('\n'),
  );
  assert.equal(k.delivered, 4);
  assert.deepEqual(k.seq, { inOrder: 3, missing: 1, duplicates: 0, gaps: 1 });
});

test('nats: MSG split across WebSocket frames, PING answered, first PONG marks subscribed', () => {
  const conn = new FakeConn();
  const s = new Session(0, ['X.trade'], true);
  const k = sink();
  natsAdapter.onOpen(conn as unknown as WsClient, s);
  assert.match(conn.sent[0]!, /^CONNECT \{.*\}\r\nSUB X\.trade 1\r\nPING\r\n$/);
  const p1 = benchPayload('X.trade', 1, monoNowUs());
  const p2 = benchPayload('X.trade', 3, monoNowUs());
  const stream = `INFO {"server_id":"x"}\r\nPONG\r\nMSG X.trade 1 ${p1.length}\r\n${p1}\r\nPING\r\nMSG X.trade 1 ${p2.length}\r\n${p2}\r\n`;
  const cut = stream.indexOf(p1) + 10;
  feed(natsAdapter, conn, s, k, stream.slice(0, cut));
  assert.equal(k.delivered, 0);
  assert.equal(k.subscribedSessions, 1);
  feed(natsAdapter, conn, s, k, stream.slice(cut));
  assert.equal(k.delivered, 2);
  assert.equal(conn.sent.at(-1), 'PONG\r\n');
  assert.deepEqual(k.seq, { inOrder: 1, missing: 1, duplicates: 0, gaps: 1 });
});

test('ws frames: client frames are masked and round-trip through the header parser lengths', () => {
  for (const len of [0, 125, 126, 65535, 65536]) {
    const f = encodeClientFrame(1, Buffer.alloc(len, 0x61));
    assert.equal(f[1]! & 0x80, 0x80);
    // A server frame of the same length (unmasked) parses back.
    const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
    const server = Buffer.concat([f.subarray(0, hdr), Buffer.alloc(len, 0x61)]);
    server[1] = server[1]! & 0x7f;
    const h: FrameHeader = { fin: false, opcode: 0, payloadStart: 0, payloadEnd: 0 };
    assert.equal(readFrameHeader(server, 0, h), true);
    assert.deepEqual(h, { fin: true, opcode: 1, payloadStart: hdr, payloadEnd: hdr + len });
    assert.equal(readFrameHeader(server.subarray(0, server.length - 1), 0, h), false);
  }
});
