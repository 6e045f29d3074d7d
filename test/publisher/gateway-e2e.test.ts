/**
 * End to end: publisher → the real gateway (startGateway, in-memory broker) → an Odin-protocol
 * WebSocket client; every published event is in the gateway's history of its channel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { CHANNEL_EVENTS, type OdinEvent } from '../../src/lib/protocol/events.js';
import { afterPublisherRun } from '../testkit/publisher-run.js';
import { TestClient, api, type Json } from '../testkit/ws-client.js';
import { schemaFor } from './event-schemas.js';

const KEY = 'publisher-e2e-key';
const TOKENS = ['BTC', 'ETH'];
const USERS = Array.from({ length: 200 }, (_, i) => `user_${String(i + 1).padStart(4, '0')}`);

describe('publisher → real gateway', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: KEY });
  });
  after(async () => {
    await gw?.close();
  });

  it('live subscribers get the events; history holds every published one', async () => {
    const client = await TestClient.connect(`${gw.url.replace('http', 'ws')}/ws`);
    const live = ['BTC.trade', 'ETH.analytics', 'market.stats'];
    client.send({ type: 'subscribe', data: { channels: live } });
    const ack = await client.next((m) => m['type'] === 'subscription_ack');
    assert.deepEqual(ack['subscribed'], live);

    try {
      await afterPublisherRun(
        {
          sink: { kind: 'gateway', url: gw.url, apiKey: KEY },
          messagesPerSecond: 500,
          statsIntervalMs: 300,
          tokens: TOKENS,
          // Creation events name brand-new tokens; leave them out so every channel is known here.
          events: ['trade', 'price', 'holders', 'liquidity', 'metadata', 'social', 'favorites', 'balances'],
        },
        async (pub, stats) => {
          assert.equal(stats.errors, 0, stats.lastError ?? '');
          assert.ok(stats.messagesPublished >= 500);
          assert.equal(((await (await fetch(`${pub.url}/health`)).json()) as Json)['nats'], 'connected');

          // Every channel the publisher can have used, read back in one batch of history calls.
          const channels = ['market.stats'];
          for (const t of TOKENS) {
            for (const e of CHANNEL_EVENTS) if (e !== 'balances') channels.push(`${t}.${e}`);
            for (const u of USERS) channels.push(`${t}.balances.${u}`);
          }
          const res = await api(gw.url, KEY, 'batch', { commands: channels.map((channel) => ({ history: { channel, limit: -1 } })) });
          assert.equal(res.status, 200);
          const replies = res.body['replies'] as { history?: { publications: { data: OdinEvent }[] }; error?: unknown }[];
          const byChannel = new Map<string, OdinEvent[]>();
          replies.forEach((r, i) => {
            assert.equal(r.error, undefined, JSON.stringify(r.error));
            byChannel.set(
              channels[i]!,
              r.history!.publications.map((p) => p.data),
            );
          });
          const all = [...byChannel.values()].flat();
          assert.equal(all.length, stats.messagesPublished);
          assert.equal(new Set(all.map((e) => e.id)).size, all.length);
          for (const e of all) assert.ok(schemaFor(e.type).safeParse(e).success, JSON.stringify(e));

          // The live client got exactly the history of its channels, labelled with the event type.
          const expected = live.reduce((n, ch) => n + byChannel.get(ch)!.length, 0);
          const pushes = await client.waitCount((m) => typeof m['channel'] === 'string' && live.includes(m['channel']), expected);
          assert.equal(pushes.length, expected);
          for (const m of pushes) {
            const data = (typeof m['data'] === 'string' ? JSON.parse(m['data']) : m['data']) as OdinEvent;
            assert.equal(m['type'], data.type);
          }
        },
      );
    } finally {
      client.close();
    }
  });
});
