/**
 * Publisher → nats-server → the gateway's NatsIngest (src/lib/ingest-nats/nats-ingest.ts):
 * every event reaches the broker on its gateway channel, keyed by its id.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_INGEST_RULES, NatsIngest, type IngestRule } from '../../src/lib/ingest-nats/nats-ingest.js';
import type { PublishOptions, StreamPosition } from '../../src/lib/core/broker.js';
import { eventChannel, type OdinEvent } from '../../src/lib/protocol/events.js';
import { odinEventType } from '../../src/lib/protocol/push.js';
import { startPublisher } from '../../src/lib/publisher/server.js';
import { startNatsServer, type NatsServerHandle } from '../testkit/nats-server.js';
import { systemClock } from '../../src/lib/runtime/clock.js';
import { waitFor } from '../testkit/wait.js';

interface Published {
  channel: string;
  data: string;
  event: OdinEvent;
  opts: PublishOptions | undefined;
}

async function run(
  nats: NatsServerHandle,
  rules: readonly IngestRule[],
): Promise<{ got: Published[]; published: number; ingest: NatsIngest }> {
  const got: Published[] = [];
  let offset = 0;
  const broker = {
    publish: async (channel: string, data: string, opts?: PublishOptions): Promise<StreamPosition> => {
      got.push({ channel, data, event: JSON.parse(data) as OdinEvent, opts });
      return { offset: ++offset, epoch: 'test' };
    },
  };
  const ingest = new NatsIngest({ broker, servers: nats.url, rules, clock: systemClock });
  await ingest.start();
  const pub = await startPublisher({
    port: 0,
    host: '127.0.0.1',
    sink: { kind: 'nats', url: nats.url },
    messagesPerSecond: 500,
    duration: 1,
    statsIntervalMs: 300,
    autostart: true,
  });
  try {
    await pub.publisher.finished();
    const published = pub.publisher.stats().messagesPublished;
    await waitFor(() => ingest.stats.received >= published, 5000, 'the ingest to receive every event');
    await waitFor(() => ingest.stats.published + ingest.stats.dropped + ingest.stats.failed >= published, 5000, 'the ingest to finish');
    return { got, published, ingest };
  } finally {
    await pub.close();
    await ingest.stop();
  }
}

describe('publisher → NATS → gateway NatsIngest', () => {
  let nats: NatsServerHandle;
  before(async () => {
    nats = await startNatsServer();
  });
  after(async () => {
    await nats?.stop();
  });

  it('with the default rules every publisher subject is ingested once, on its channel, with its id as idempotency key, its type read from the data and no tag added', async () => {
    const { got, published, ingest } = await run(nats, DEFAULT_INGEST_RULES);
    assert.equal(ingest.stats.dropped, 0);
    assert.equal(ingest.stats.published, published);
    assert.equal(got.length, published);
    for (const p of got) {
      assert.equal(p.channel, eventChannel(p.event));
      assert.equal(p.opts?.idempotencyKey, p.event.id);
      // No tag is added (tags are sent only when published, issue 20); Odin pushes read the
      // type from the data itself.
      assert.equal(p.opts?.tags, undefined);
      assert.equal(odinEventType({ channel: p.channel, offset: 1, epoch: 'e', time: 0, data: p.data }), p.event.type);
    }
    assert.ok(got.some((p) => p.event.type === 'balance:update'));
    assert.ok(got.some((p) => p.channel === 'market.stats'));
  });
});
