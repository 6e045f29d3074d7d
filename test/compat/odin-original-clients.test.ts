/**
 * The original Odin client script `scripts/test-subscription-filtering.cjs` (adred-codev/ws_poc)
 * replayed frame for frame against a real gateway process fed by a real nats-server: the same
 * subscribe/unsubscribe frames, the same NATS subjects and payloads (identical payloads repeated
 * across its tests included), and the same expectation, counting every frame except
 * `subscription_ack`, `unsubscription_ack` and `pong`. Its fixed sleeps are replaced by fences:
 * a publication the client must not get is known to have been fanned out once an observer got
 * it, and a heartbeat answered afterwards proves nothing was queued for the client before.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';

type Msg = Record<string, unknown>;

/** A client that behaves like the script's createTestClient. */
class OriginalClient {
  /** Every frame but the acks and pongs, as the script counts them. */
  readonly received: Msg[] = [];
  /** Every frame, to wait on acks and pongs. */
  readonly all: Msg[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as Msg;
      this.all.push(msg);
      if (msg.type !== 'subscription_ack' && msg.type !== 'unsubscription_ack' && msg.type !== 'pong') this.received.push(msg);
    });
  }

  static open(url: string): Promise<OriginalClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.once('open', () => resolve(new OriginalClient(ws)));
      ws.once('error', reject);
    });
  }

  private async sendAndWait(frame: Msg, type: string): Promise<Msg> {
    const from = this.all.length;
    this.ws.send(JSON.stringify(frame));
    await waitFor(() => this.all.slice(from).some((m) => m.type === type), 5000, type);
    return this.all.slice(from).find((m) => m.type === type)!;
  }

  subscribe(channels: string[]): Promise<Msg> {
    return this.sendAndWait({ type: 'subscribe', data: { channels } }, 'subscription_ack');
  }

  unsubscribe(channels: string[]): Promise<Msg> {
    return this.sendAndWait({ type: 'unsubscribe', data: { channels } }, 'unsubscription_ack');
  }

  /** Everything the server queued for this client before now has arrived. */
  async fence(): Promise<void> {
    await this.sendAndWait({ type: 'heartbeat' }, 'pong');
  }

  close(): void {
    this.ws.close();
  }
}

let nats: NatsServerHandle;
let gw: GatewayProcess;
let nc: NatsConnection;
let observer: OriginalClient;
let wsUrl: string;

/** The script's publishToNATS, then: the gateway has fanned it out (the observer has it). */
async function publishToNATS(subject: string, data: unknown): Promise<void> {
  const channel = subject.slice('odin.token.'.length);
  const seen = observer.received.filter((m) => m.channel === channel).length;
  nc.publish(subject, JSON.stringify(data));
  await nc.flush();
  await waitFor(() => observer.received.filter((m) => m.channel === channel).length > seen, 10_000, `${channel} at the observer`);
}

before(async () => {
  nats = await startNatsServer();
  gw = await startGatewayProcess({ natsUrl: nats.url, apiKey: 'replay' });
  wsUrl = `${gw.wsUrl}/ws`;
  nc = await connect({ servers: nats.url });
  observer = await OriginalClient.open(wsUrl);
  await observer.subscribe(['BTC.trade', 'ETH.trade', 'SOL.trade', 'ADA.trade', 'DOT.trade', 'PROBE.trade']);
  // The gateway ingests the NATS feed once it holds the feed: probe until a message arrives.
  for (let i = 0; observer.received.length === 0; i++) {
    if (i > 200) throw new Error('the gateway never ingested the NATS feed');
    nc.publish('odin.token.PROBE.trade', JSON.stringify({ probe: i, type: 'trade' }));
    await nc.flush();
    await new Promise((r) => setTimeout(r, 50));
  }
  observer.received.length = 0;
});
after(async () => {
  observer?.close();
  await nc?.close();
  await gw?.stop();
  await nats?.stop();
});

test('Test 1: basic subscription filtering (Client1=2, Client2=1); pushes carry the publisher type and raw payload', async () => {
  const client1 = await OriginalClient.open(wsUrl);
  const client2 = await OriginalClient.open(wsUrl);
  await client1.subscribe(['BTC.trade', 'ETH.trade']);
  await client2.subscribe(['SOL.trade']);
  await publishToNATS('odin.token.BTC.trade', { symbol: 'BTC', price: 50000, type: 'trade' });
  await publishToNATS('odin.token.ETH.trade', { symbol: 'ETH', price: 3000, type: 'trade' });
  await publishToNATS('odin.token.SOL.trade', { symbol: 'SOL', price: 100, type: 'trade' });
  await client1.fence();
  await client2.fence();
  assert.equal(client1.received.length, 2, JSON.stringify(client1.received));
  assert.equal(client2.received.length, 1, JSON.stringify(client2.received));
  assert.equal(client1.received[0]!.type, 'trade');
  assert.deepEqual(client1.received[0]!.data, { symbol: 'BTC', price: 50000, type: 'trade' });
  client1.close();
  client2.close();
});

test('Test 2: unsubscribe (2 messages: BTC before, ETH after); the repeated BTC payload of test 1 is delivered again', async () => {
  const client = await OriginalClient.open(wsUrl);
  await client.subscribe(['BTC.trade', 'ETH.trade']);
  await publishToNATS('odin.token.BTC.trade', { symbol: 'BTC', price: 50000, type: 'trade' });
  await client.fence();
  assert.equal(client.received.length, 1);
  await client.unsubscribe(['BTC.trade']);
  await publishToNATS('odin.token.BTC.trade', { symbol: 'BTC', price: 51000, type: 'trade' });
  await publishToNATS('odin.token.ETH.trade', { symbol: 'ETH', price: 3000, type: 'trade' });
  await client.fence();
  assert.equal(client.received.length, 2, JSON.stringify(client.received));
  client.close();
});

test('Test 3: multiple subscriptions (5 channels, 5 messages)', async () => {
  const client = await OriginalClient.open(wsUrl);
  const symbols = ['BTC', 'ETH', 'SOL', 'ADA', 'DOT'];
  await client.subscribe(symbols.map((s) => `${s}.trade`));
  for (const [i, symbol] of symbols.entries()) await publishToNATS(`odin.token.${symbol}.trade`, { symbol, price: 100 + i, type: 'trade' });
  await client.fence();
  assert.equal(client.received.length, 5, JSON.stringify(client.received));
  client.close();
});

test('Test 4: no subscription, no messages (not even a greeting)', async () => {
  const client = await OriginalClient.open(wsUrl);
  await publishToNATS('odin.token.BTC.trade', { symbol: 'BTC', price: 50000, type: 'trade' });
  await publishToNATS('odin.token.ETH.trade', { symbol: 'ETH', price: 3000, type: 'trade' });
  await client.fence();
  assert.equal(client.received.length, 0, JSON.stringify(client.received));
  client.close();
});
