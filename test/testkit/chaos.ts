/**
 * Broker chaos, shared by `npm test` (a few kills) and bench/chaos (20 kills): real nats-servers
 * (one, or a 3-node cluster with an R3 stream), gateway processes, real centrifuge SDK clients
 * subscribed throughout, a publisher on the HTTP API recording what was acknowledged, and the
 * broker killed (SIGKILL) and restarted while it publishes. Afterwards every client must hold
 * every acknowledged publication exactly once, in order, at consecutive offsets of one epoch.
 */
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { apiOk, callApi, startGatewayProcess, type GatewayProcess } from './gateway-process.js';
import { waitFor } from './wait.js';
import { startNatsCluster } from './nats-cluster.js';
import { startNatsServer, type NatsServerHandle } from './nats-server.js';
import { SdkSubscriber } from './sdk-subscriber.js';
import { judgeDeliveries, type DeliveryVerdict } from './delivery-verdict.js';

export interface BrokerChaosOptions {
  /** `r3`: 3-node cluster, R3 stream, the stream leader is killed; `single`: the only nats-server is killed. */
  readonly mode: 'r3' | 'single';
  readonly kills: number;
  /** SDK clients per channel (each its own connection), spread over the gateways. */
  readonly clientsPerChannel: number;
  readonly channels: number;
  readonly gateways: number;
  /** How long the victim stays down, ms. */
  readonly downMs: number;
  /** Acknowledged publications between two kills. */
  readonly acksBetweenKills: number;
  /** Pause between two publish calls of the publisher loop, ms. */
  readonly publishEveryMs?: number;
  readonly log?: (line: string) => void;
}

export interface BrokerChaosResult extends DeliveryVerdict {
  readonly kills: number;
  readonly acked: number;
  /** Publish calls answered with an error or not at all (not acknowledged: may or may not exist). */
  readonly unacknowledged: number;
  readonly clients: number;
  /** Per kill: from SIGKILL to the acknowledgement of the first publish call started after it, ms. */
  readonly publishOutagesMs: readonly number[];
  /** After the last publication: until every client held everything, ms. */
  readonly catchUpMs: number;
  readonly durationMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function streamLeader(urls: readonly string[], stream: string): Promise<string | undefined> {
  const nc = await connect({ servers: [...urls], reconnect: false, timeout: 3_000 });
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false });
    return (await jsm.streams.info(stream)).cluster?.leader;
  } finally {
    await nc.close();
  }
}

export async function runBrokerChaos(o: BrokerChaosOptions): Promise<BrokerChaosResult> {
  const log = o.log ?? (() => {});
  const started = Date.now();
  const apiKey = 'chaos-' + randomBytes(6).toString('hex');
  const stream = 'CHAOS_' + randomBytes(3).toString('hex').toUpperCase();
  const servers: NatsServerHandle[] = [];
  let stopCluster: () => Promise<void>;
  if (o.mode === 'r3') {
    const c = await startNatsCluster(3);
    servers.push(...c.servers);
    stopCluster = () => c.stop();
  } else {
    const s = await startNatsServer();
    servers.push(s);
    stopCluster = () => s.stop();
  }
  const urls = servers.map((s) => s.url);
  const gws: GatewayProcess[] = [];
  const subs: { ch: string; s: SdkSubscriber }[] = [];
  let stop = false;
  let publisher: Promise<void> = Promise.resolve();
  try {
    for (let g = 0; g < o.gateways; g++) {
      gws.push(
        await startGatewayProcess({
          natsUrl: urls.join(','),
          apiKey,
          env: { NATS_STREAM: stream, NATS_STREAM_REPLICAS: o.mode === 'r3' ? '3' : '1' },
        }),
      );
    }
    const tag = randomBytes(3).toString('hex').toUpperCase();
    const channels = Array.from({ length: o.channels }, (_, i) => `CX${tag}${i}.trade`);
    for (const ch of channels) {
      for (let c = 0; c < o.clientsPerChannel; c++) subs.push({ ch, s: new SdkSubscriber(gws[c % gws.length]!.wsUrl, ch) });
    }
    for (const { s } of subs) await s.waitFor(() => s.subscribed.length > 0, 20_000, 'subscribed');

    const acked = new Map<string, number[]>(channels.map((ch) => [ch, []]));
    let ackedTotal = 0;
    let unacknowledged = 0;
    let lastAckAt = 0;
    let lastAckCallAt = 0;
    publisher = (async () => {
      for (let i = 1; !stop; i++) {
        const ch = channels[i % channels.length]!;
        const gw = gws[i % gws.length]!;
        const callAt = Date.now();
        try {
          const r = await callApi(gw.url, apiKey, 'publish', { channel: ch, data: { i } }, 5_000);
          // A 200 may carry the error in its body (Centrifugo's API semantics): only a result is an ack.
          if (apiOk(r)) {
            acked.get(ch)!.push(i);
            ackedTotal++;
            lastAckAt = Date.now();
            lastAckCallAt = callAt;
          } else {
            unacknowledged++;
            await sleep(50);
          }
        } catch {
          unacknowledged++;
        }
        if (o.publishEveryMs) await sleep(o.publishEveryMs);
      }
    })();

    const outages: number[] = [];
    for (let k = 0; k < o.kills; k++) {
      const base = ackedTotal;
      await waitFor(() => ackedTotal >= base + o.acksBetweenKills, 120_000, `${o.acksBetweenKills} acks before kill ${k + 1}`, {
        everyMs: 50,
      });
      let victim = servers[0]!;
      if (o.mode === 'r3') {
        const leader = await streamLeader(
          servers.filter((s) => s.running()).map((s) => s.url),
          stream,
        );
        victim = servers.find((s) => s.name === leader) ?? victim;
      }
      const killedAt = Date.now();
      await victim.kill();
      await sleep(o.downMs);
      await victim.restart();
      await waitFor(() => lastAckCallAt > killedAt, 120_000, `an acknowledged publication after kill ${k + 1}`, { everyMs: 50 });
      outages.push(lastAckAt - killedAt);
      log(`# kill ${k + 1}/${o.kills}: ${victim.name} down ${o.downMs} ms; publishing acknowledged again after ${lastAckAt - killedAt} ms`);
      if (o.mode === 'r3') await waitAllCurrent(urls, stream);
    }
    const tail = ackedTotal;
    await waitFor(() => ackedTotal >= tail + o.acksBetweenKills, 120_000, 'acks after the last kill', { everyMs: 50 });
    stop = true;
    await publisher;
    const doneAt = Date.now();
    const holdsAll = (ch: string, s: SdkSubscriber): boolean => {
      const want = acked.get(ch)!;
      const last = want[want.length - 1];
      return last === undefined || s.pubs.some((p) => (p.data as { i: number }).i === last);
    };
    await waitFor(() => subs.every(({ ch, s }) => holdsAll(ch, s)), 120_000, 'every client holds the last acknowledged publication', {
      everyMs: 50,
    });
    const catchUpMs = Date.now() - doneAt;

    const verdict = judgeDeliveries(
      subs.map(({ ch, s }) => ({ channel: ch, s, acked: acked.get(ch)! })),
      (d) => (d as { i: number }).i,
      'all',
    );
    return {
      kills: o.kills,
      acked: ackedTotal,
      unacknowledged,
      clients: subs.length,
      ...verdict,
      publishOutagesMs: outages,
      catchUpMs,
      durationMs: Date.now() - started,
    };
  } finally {
    stop = true;
    await publisher.catch(() => {});
    for (const { s } of subs) s.close();
    await Promise.all(gws.map((g) => g.stop()));
    await stopCluster();
  }
}

/** After a restart in the cluster: until the stream reports every replica current again (at most 30 s). */
async function waitAllCurrent(urls: readonly string[], stream: string): Promise<void> {
  await waitFor(
    async () => {
      try {
        const nc = await connect({ servers: [...urls], reconnect: false, timeout: 3_000 });
        try {
          const jsm = await jetstreamManager(nc, { checkAPI: false });
          const cl = (await jsm.streams.info(stream)).cluster;
          return cl?.leader !== undefined && (cl.replicas ?? []).length === 2 && (cl.replicas ?? []).every((r) => r.current);
        } finally {
          await nc.close();
        }
      } catch {
        return false;
      }
    },
    30_000,
    'every stream replica current after the restart',
    { everyMs: 200 },
  );
}
