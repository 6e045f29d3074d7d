/**
 * Several gateway processes on one nats-server: delivery across processes, recovery on
 * another process (real centrifuge SDK), one order for concurrent publishers, --workers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { callApi, startGatewayProcess, type GatewayProcess, assertApiOk } from '../testkit/gateway-process.js';
import { SdkSubscriber } from '../testkit/sdk-subscriber.js';

const API_KEY = 'test-' + randomBytes(6).toString('hex');
const channel = (p: string): string => `${p}${randomBytes(3).toString('hex')}.trade`;

describe('multi-process gateways on one NATS', () => {
  let nats: NatsServerHandle;
  const gws: GatewayProcess[] = [];
  const clients: SdkSubscriber[] = [];

  before(async () => {
    nats = await startNatsServer();
    gws.push(...(await Promise.all([0, 1, 2].map(() => startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY })))));
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(gws.map((g) => g.stop()));
    await nats?.stop();
  });

  it('a client on gateway A receives what is published through gateway B', async () => {
    const [a, b] = [gws[0]!, gws[1]!];
    const ch = channel('XA');
    const s = new SdkSubscriber(a.wsUrl, ch);
    clients.push(s);
    await s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed');
    const r = await callApi(b.url, API_KEY, 'publish', { channel: ch, data: { price: 43250 } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await s.waitFor(() => s.pubs.length >= 1, 10_000, 'publication');
    assert.deepEqual(s.pubs[0], { offset: r.body.result?.['offset'], data: { price: 43250 } });
  });

  it('a client that leaves A and comes back on B recovers every missed publication in order (centrifuge SDK)', async () => {
    const [a, b, c] = [gws[0]!, gws[1]!, gws[2]!];
    const ch = channel('RC');
    const s1 = new SdkSubscriber(a.wsUrl, ch);
    clients.push(s1);
    await s1.waitFor(() => s1.subscribed.length > 0, 10_000, 'subscribed on A');
    for (let i = 1; i <= 5; i++) assertApiOk(await callApi(c.url, API_KEY, 'publish', { channel: ch, data: { i } }));
    await s1.waitFor(() => s1.pubs.length >= 5, 10_000, '5 live on A');
    const pos = s1.position;
    assert.ok(pos && pos.offset === 5 && pos.epoch !== '', `position after 5: ${JSON.stringify(pos)}`);
    s1.close();
    for (let i = 6; i <= 15; i++) assertApiOk(await callApi(a.url, API_KEY, 'publish', { channel: ch, data: { i } }));
    const s2 = new SdkSubscriber(b.wsUrl, ch, pos);
    clients.push(s2);
    await s2.waitFor(() => s2.pubs.length >= 10, 10_000, '10 recovered on B');
    const sub = s2.subscribed[0]!;
    assert.equal(sub.wasRecovering, true);
    assert.equal(sub.recovered, true);
    assert.deepEqual(
      s2.pubs.map((p) => p.offset),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    assert.deepEqual(
      s2.pubs.map((p) => (p.data as { i: number }).i),
      [6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    );
    // and it is live again on B
    assertApiOk(await callApi(c.url, API_KEY, 'publish', { channel: ch, data: { i: 16 } }));
    await s2.waitFor(() => s2.pubs.length >= 11, 10_000, 'live after recovery');
    assert.equal(s2.pubs[10]!.offset, 16);
  });

  it('16 concurrent publishers x 2000 on one channel: every subscriber on every gateway sees one order, nothing lost or doubled', async () => {
    const PUBLISHERS = 16;
    const EACH = 2000;
    const total = PUBLISHERS * EACH;
    const ch = channel('ORD');
    const subs = gws.map((g) => new SdkSubscriber(g.wsUrl, ch));
    clients.push(...subs);
    await Promise.all(subs.map((s) => s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed')));
    const started = Date.now();
    let failures = 0;
    await Promise.all(
      Array.from({ length: PUBLISHERS }, async (_, p) => {
        const via = gws[p % gws.length]!;
        for (let n = 0; n < EACH; n++) {
          const r = await callApi(via.url, API_KEY, 'publish', { channel: ch, data: { p, n } });
          if (r.status !== 200) failures++;
        }
      }),
    );
    const publishMs = Date.now() - started;
    assert.equal(failures, 0);
    await Promise.all(subs.map((s) => s.waitFor(() => s.pubs.length >= total, 60_000, `${total} deliveries`)));
    const ref = subs[0]!.pubs.map((x) => `${x.offset}:${(x.data as { p: number }).p}:${(x.data as { n: number }).n}`);
    for (const s of subs.slice(1)) {
      assert.deepEqual(
        s.pubs.map((x) => `${x.offset}:${(x.data as { p: number }).p}:${(x.data as { n: number }).n}`),
        ref,
        'same order everywhere',
      );
    }
    assert.equal(ref.length, total, 'no duplicates');
    const offsets = subs[0]!.pubs.map((x) => x.offset);
    for (let i = 0; i < offsets.length; i++) assert.equal(offsets[i], i + 1, 'contiguous offsets');
    const lastN = new Array<number>(PUBLISHERS).fill(-1);
    for (const x of subs[0]!.pubs) {
      const d = x.data as { p: number; n: number };
      assert.equal(d.n, lastN[d.p]! + 1, `publisher ${d.p} in its own order`);
      lastN[d.p] = d.n;
    }
    process.stdout.write(
      `# 16x2000 on one channel through 3 gateways: published in ${publishMs} ms (${Math.round(total / (publishMs / 1000))}/s)\n`,
    );
  });
});

describe('three gateways ingesting one NATS feed', () => {
  let nats: NatsServerHandle;
  const gws: GatewayProcess[] = [];
  const clients: SdkSubscriber[] = [];
  before(async () => {
    nats = await startNatsServer();
    for (let i = 0; i < 3; i++) gws.push(await startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY }));
  });
  after(async () => {
    for (const c of clients) c.close();
    await Promise.all(gws.map((g) => g.stop()));
    await nats?.stop();
  });

  it('one gateway reads the feed (lease); every subscriber everywhere sees it once, contiguous, in the feed order', async () => {
    const reading = gws.map((g) => g.logs.find((l) => l['msg'] === 'ingest started')?.['reading']);
    assert.deepEqual(reading.filter((r) => r === true).length, 1, `one reader: ${JSON.stringify(reading)}`);
    const sym = 'F' + randomBytes(3).toString('hex');
    const ch = `${sym}.trade`;
    const subs = gws.map((g) => new SdkSubscriber(g.wsUrl, ch));
    clients.push(...subs);
    await Promise.all(subs.map((s) => s.waitFor(() => s.subscribed.length > 0, 10_000, 'subscribed')));
    const { connect } = await import('@nats-io/transport-node');
    const nc = await connect({ servers: nats.url });
    const total = 3000;
    const enc = new TextEncoder();
    for (let i = 0; i < total; i++) nc.publish(`odin.token.${sym}.trade`, enc.encode(JSON.stringify({ type: 'trade', i })));
    await nc.flush();
    await nc.close();
    await Promise.all(subs.map((s) => s.waitFor(() => s.pubs.length >= total, 60_000, `${total} deliveries`)));
    for (const s of subs) {
      assert.deepEqual(
        s.pubs.map((p) => p.offset),
        Array.from({ length: total }, (_, i) => i + 1),
        'contiguous offsets',
      );
      assert.deepEqual(
        s.pubs.map((p) => (p.data as { i: number }).i),
        Array.from({ length: total }, (_, i) => i),
        'the feed order, each message once',
      );
    }
  });
});

describe('--workers', () => {
  let nats: NatsServerHandle;
  let gw: GatewayProcess | undefined;
  const clients: SdkSubscriber[] = [];
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    for (const c of clients) c.close();
    await gw?.stop();
    await nats?.stop();
  });

  it('runs N full gateway processes on one port; clients on every worker receive publications', async () => {
    gw = await startGatewayProcess({ natsUrl: nats.url, apiKey: API_KEY, workers: 2 });
    const pids = new Set(gw.logs.filter((l) => l['msg'] === 'gateway listening').map((l) => l['pid']));
    assert.equal(pids.size, 2, 'two worker processes listening');
    const ch = channel('WK');
    for (let i = 0; i < 4; i++) clients.push(new SdkSubscriber(gw.wsUrl, ch));
    await Promise.all(clients.map((c) => c.waitFor(() => c.subscribed.length > 0, 10_000, 'subscribed')));
    for (let i = 0; i < 10; i++) assertApiOk(await callApi(gw.url, API_KEY, 'publish', { channel: ch, data: { i } }));
    await Promise.all(clients.map((c) => c.waitFor(() => c.pubs.length >= 10, 10_000, '10 publications')));
    for (const c of clients) {
      assert.deepEqual(
        c.pubs.map((p) => p.offset),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
    }
  });

  it('--workers with the memory broker is refused with a clear message', () => {
    const r = spawnSync(process.execPath, ['bin/odin-ws.js', 'gateway', '--workers', '2', '--port', '0'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /workers: several processes need a shared broker; use --broker nats/);
  });
});
