/**
 * Issue 21 item 12: what encoding one recovery costs, per protocol, in ns per recovered byte.
 * 11,000 publications of ~400 B (about 4.2 MiB, one command's bound) are encoded the way a
 * subscribe with a position does it: Odin — one publication push per publication; Centrifugo
 * JSON and protobuf — one subscribe reply holding them all, framed. `uncached` encodes each
 * time (as before RecoveryFrames); `cached` goes through core's RecoveryFrames as the clients do,
 * so the first round encodes and the next ones (a loop of the same command, or many clients
 * recovering the same history) reuse the encodings. Then the same with 40 B payloads, for the
 * fixed cost per publication (RECOVERY_COST_PER_PUBLICATION).
 *   npm run build && node dist/bench/micro/recovery-encode.js [rounds=5]
 */
import { loadavg } from 'node:os';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Hub } from '../../src/lib/core/hub.js';
import { GatewayStats } from '../../src/lib/core/stats.js';
import { silentLogger } from '../../src/lib/core/logger.js';
import type { Publication } from '../../src/lib/core/broker.js';
import { WsTransport } from '../../src/lib/transport-ws/ws-transport.js';
import { JSON_CODEC } from '../../src/lib/protocol/centrifuge-codec.js';
import { PROTOBUF_CODEC } from '../../src/lib/protocol/centrifuge-protobuf.js';
import { encodePublicationObject } from '../../src/lib/protocol/centrifuge.js';
import { KIND_CENTRIFUGE_JSON_OBJECT, RecoveryFrames } from '../../src/lib/core/recovery-frames.js';
import { PROTO_CENTRIFUGE, PROTO_CENTRIFUGE_PROTOBUF, PROTO_ODIN, type ProtocolId } from '../../src/lib/protocol/push.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const ROUNDS = Number(process.argv[2] ?? 5);
const N = 11_000;

async function main(): Promise<void> {
  for (const size of [400, 40]) await run(size);
}

async function run(size: number): Promise<void> {
  const broker = new MemoryBroker({ clock: systemClock, sweepIntervalMs: 0 });
  const pad = 'x'.repeat(size - 20);
  // JSON.stringify gives flat strings, as the server API's publish does.
  for (let i = 1; i <= N; i++) await broker.publish('BTC.trade', JSON.stringify({ i: 1e6 + i, p: pad }), { historySize: N });
  const { publications } = await broker.history('BTC.trade', { limit: N, since: { offset: 0, epoch: '' } });
  const bytes = publications.reduce((a, p) => a + p.data.length, 0);
  const transport = new WsTransport({ maxPayload: 64 * 1024, permessageDeflate: false });
  const hub = new Hub(broker, transport, new GatewayStats(), silentLogger, systemClock);
  const frames = new RecoveryFrames();
  const encoders: Record<string, (pubs: readonly Publication[]) => number> = {
    'odin uncached': (pubs) => pushes(hub, PROTO_ODIN, pubs, null),
    'odin cached': (pubs) => pushes(hub, PROTO_ODIN, pubs, frames),
    'centrifuge json uncached': (pubs) => reply(hub, PROTO_CENTRIFUGE, pubs, null),
    'centrifuge json cached': (pubs) => reply(hub, PROTO_CENTRIFUGE, pubs, frames),
    'centrifuge protobuf': (pubs) => reply(hub, PROTO_CENTRIFUGE_PROTOBUF, pubs, null),
  };
  console.log(
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; ${N} publications of ${size} B, ${(bytes / 1048576).toFixed(2)} MiB of payload`,
  );
  for (const [name, encode] of Object.entries(encoders)) {
    const ms: number[] = [];
    let out = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = process.hrtime.bigint();
      out = encode(publications);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    ms.sort((a, b) => a - b);
    const med = ms[Math.floor(ms.length / 2)]!;
    console.log(
      `${name.padEnd(26)} first ${ms[ms.length - 1]!.toFixed(1)} ms, median ${med.toFixed(1)} ms = ${((med * 1e6) / bytes).toFixed(2)} ns per payload byte, ${((med * 1e6) / N).toFixed(0)} ns per publication (${(out / 1048576).toFixed(2)} MiB framed)`,
    );
  }
}

function pushes(hub: Hub, proto: ProtocolId, pubs: readonly Publication[], frames: RecoveryFrames | null): number {
  let n = 0;
  for (const p of pubs) n += (frames ? frames.get(proto, p, (x) => hub.framer.prepare(proto, x)) : hub.framer.prepare(proto, p)).byteLength;
  return n;
}

function reply(hub: Hub, proto: ProtocolId, pubs: readonly Publication[], frames: RecoveryFrames | null): number {
  const codec = proto === PROTO_CENTRIFUGE ? JSON_CODEC : PROTOBUF_CODEC;
  const bytes = codec.subscribe(2, {
    recoverable: true,
    epoch: pubs[0]!.epoch,
    offset: pubs[pubs.length - 1]!.offset,
    wasRecovering: true,
    recovered: true,
    publications: pubs,
    data: null,
    ...(frames ? { publicationJson: (x) => frames.get(KIND_CENTRIFUGE_JSON_OBJECT, x as Publication, encodePublicationObject) } : {}),
  });
  return hub.prepareBytes(bytes, codec.binary).byteLength;
}

await main();
