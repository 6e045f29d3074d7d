/**
 * One stats row per gateway process and node: real gateway processes (`odin-ws gateway`, the
 * dashboard on by default) on one nats-server — one with two workers, one alone. A page's
 * subscription to the stats channel on either sees a row from each of the three processes.
 */
import { strict as assert } from 'node:assert';
import { after, before, it } from 'node:test';
import { STATS_CHANNEL } from '../../src/lib/protocol/addresses.js';
import { startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { TestClient, type Json } from '../testkit/ws-client.js';
import { waitFor } from '../testkit/wait.js';

let nats: NatsServerHandle;
const gws: GatewayProcess[] = [];

before(async () => {
  nats = await startNatsServer();
  gws.push(await startGatewayProcess({ natsUrl: nats.url, apiKey: 'nodes-test-key', workers: 2 }));
  gws.push(await startGatewayProcess({ natsUrl: nats.url, apiKey: 'nodes-test-key' }));
});
after(async () => {
  await Promise.all(gws.map((g) => g.stop()));
  await nats?.stop();
});

it('a page on one gateway sees a stats row from every worker and node', async () => {
  const c = await TestClient.connect(gws[1]!.wsUrl + '/ws');
  c.send({ type: 'subscribe', data: { channels: [STATS_CHANNEL] } });
  const rows = new Map<string, Json>();
  await waitFor(
    () => {
      for (const m of c.messages) if (m.channel === STATS_CHANNEL) rows.set((m.data as Json).node as string, m.data as Json);
      return rows.size >= 3;
    },
    20_000,
    'rows from three processes',
  );
  c.ws.close();
  const all = [...rows.values()];
  assert.equal(new Set(all.map((r) => r.pid)).size, 3, 'three processes');
  assert.ok(all.every((r) => (r.health as Record<string, Json>).broker!.ok === true));
  assert.ok(
    all.some((r) => 'ingest-nats' in (r.health as Json)),
    JSON.stringify(all.map((r) => r.health)),
  );
});
