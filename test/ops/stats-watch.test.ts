/**
 * `odin-ws stats --watch` on a terminal: the headline figures come first and every frame fits the
 * terminal, so they never scroll off a 24-row screen however many topics and event types there are.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headline, renderStats, renderWatchFrame, type StatsSnapshot } from '../../src/lib/ops-probe/stats.js';

function snapshot(at: number, published: number, out: number): StatsSnapshot {
  const byType = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`type${i}`, i * 10]));
  return {
    at,
    view: 'all',
    errors: { nats: 'http://127.0.0.1:8222: connection refused (not running?)' },
    answered: true,
    publisher: { isPublishing: true, profile: 'sustained', stats: { messagesPublished: published, errors: 0, byType } },
    gateway: {
      ready: true,
      connections: { total: 500, odin: 500, centrifuge: 0 },
      subscriptions: 500,
      channels: 10,
      publications: published,
      messages: { in: 0, out, bytesOut: out * 150 },
      slowDisconnects: 0,
      ips: Array.from({ length: 20 }, (_, i) => ({ ip: `127.0.0.${i + 1}`, connections: 25 })),
    },
    kafka: { ok: true, ms: 1, apis: 60, broker: '127.0.0.1:19092' },
    kafkaTopics: {
      group: 'odin-ws-gateway',
      topics: Array.from({ length: 8 }, (_, i) => ({ topic: `odin.t${i}`, partitions: 12, endOffsets: published, committed: published - 5, lag: 5 })),
    },
  } as unknown as StatsSnapshot;
}

test('a --watch frame fits 24 rows with the headline first; the full view is longer', () => {
  const prev = snapshot(1000, 1000, 50_000);
  const cur = snapshot(3000, 3000, 150_000);
  assert.ok(renderStats(cur, prev).split('\n').length > 54);
  const frame = renderWatchFrame(cur, prev, 23);
  const lines = frame.trimEnd().split('\n');
  assert.ok(lines.length <= 22, `${lines.length} lines`);
  assert.match(lines[0]!, /^LIVE/);
  assert.match(frame, /^publisher +publishing, 3,000 published \(1,000\/s\), 0 errors$/m);
  assert.match(frame, /^gateway traffic +1,000\/s publications, 50,000\/s messages out/m);
  assert.match(frame, /^kafka +24,000 records in 8 topics, group odin-ws-gateway lag 40$/m);
  assert.match(frame, /^not answering +nats$/m);
  assert.match(lines.at(-1)!, /^… \d+ more lines \(odin-ws stats all prints them all\)$/);
  assert.equal(headline({ at: 0, view: 'all', errors: {}, answered: false }, null), '');
});
