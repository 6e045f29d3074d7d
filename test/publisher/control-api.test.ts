import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPublisher, type RunningPublisher } from '../../src/lib/publisher/server.js';
import { MemorySink } from '../../src/lib/publisher/sinks/memory-sink.js';
import { FakeClock } from '../testkit/fake-clock.js';

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const init: RequestInit = { method };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    init.headers = { 'content-type': 'application/json' };
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

function control(base: string, body: unknown): Promise<Answer> {
  return call(base, 'POST', '/control', body);
}

describe('control API', () => {
  // A fake clock: nothing is published unless the test advances time.
  const clock = new FakeClock();
  const sink = new MemorySink();
  let pub: RunningPublisher;
  let base: string;

  before(async () => {
    pub = await startPublisher({
      port: 0,
      host: '127.0.0.1',
      sink: { kind: 'custom', sink },
      clock,
      seed: 1,
      statsIntervalMs: 1000,
      maxInFlight: 10_000,
    });
    base = pub.url;
  });
  after(async () => {
    await pub.close();
    await pub.close(); // twice is harmless
  });

  it('GET /stats keeps the Odin shape before any run', async () => {
    const a = await call(base, 'GET', '/stats');
    assert.equal(a.status, 200);
    assert.equal(a.body['success'], true);
    assert.equal(a.body['isPublishing'], false);
    assert.deepEqual(a.body['activeTokens'], ['BTC', 'ETH', 'ODIN', 'SOL', 'DOGE']);
    const stats = a.body['stats'] as Record<string, unknown>;
    assert.equal(stats['messagesPublished'], 0);
    assert.equal(stats['startTime'], null);
    assert.equal(stats['errors'], 0);
    const conf = a.body['configuration'] as Record<string, unknown>;
    assert.equal(conf['messagesPerSecond'], 1000);
    assert.equal(conf['profile'], 'sustained');
  });

  it('start publishes at the configured rate; a second start is 409; stop stops', async () => {
    const start = await control(base, { action: 'start', messagesPerSecond: 500, tokens: ['btc', 'PEPE'] });
    assert.equal(start.status, 200);
    assert.equal(start.body['success'], true);
    assert.deepEqual((start.body['configuration'] as Record<string, unknown>)['tokens'], ['BTC', 'PEPE']);
    clock.advance(2000);
    await sink.waitFor(1000);
    const again = await control(base, { action: 'start' });
    assert.equal(again.status, 409);
    assert.equal(again.body['success'], false);
    assert.match(String(again.body['message']), /already/);

    const stats = await call(base, 'GET', '/stats');
    const s = stats.body['stats'] as Record<string, number | Record<string, number>>;
    assert.equal(stats.body['isPublishing'], true);
    // 1000 events + 2 market summaries (every 1 s here).
    assert.equal(s['messagesPublished'], 1002);
    assert.equal(s['targetRate'], 500);
    assert.equal(s['averageRate'], 501);
    const byType = s['byType'] as Record<string, number>;
    assert.equal(byType['market:stats'], 2);
    assert.equal(
      Object.values(byType).reduce((a, b) => a + b, 0),
      1002,
    );
    assert.ok(
      sink.events.every(
        (e) => e.event.token === 'BTC' || e.event.token === 'PEPE' || e.event.type === 'market:stats' || e.event.type.startsWith('token:'),
      ),
    );

    const stop = await control(base, { action: 'stop' });
    assert.equal(stop.status, 200);
    assert.equal(stop.body['message'], 'publishing stopped');
    assert.equal((stop.body['stats'] as Record<string, number>)['messagesPublished'], 1002);
    clock.advance(2000);
    assert.equal(sink.events.length, 1002);
    const stopAgain = await control(base, { action: 'stop' });
    assert.equal(stopAgain.status, 200);
    assert.equal(stopAgain.body['message'], 'publishing was not running');
  });

  it('configure changes rate, tokens and mix while running, without restart', async () => {
    sink.events.length = 0;
    assert.equal((await control(base, { action: 'start', messagesPerSecond: 100, tokens: 5, events: ['trade'] })).status, 200);
    clock.advance(1000);
    const conf = await control(base, { action: 'configure', messagesPerSecond: 300, tokens: ['SOL'], events: { price: 1, balances: 1 } });
    assert.equal(conf.status, 200);
    assert.equal(conf.body['success'], true);
    const c = conf.body['configuration'] as Record<string, unknown>;
    assert.equal(c['messagesPerSecond'], 300);
    assert.deepEqual(c['tokens'], ['SOL']);
    clock.advance(1000);
    await sink.waitFor(400);
    const stats = (await call(base, 'GET', '/stats')).body;
    assert.equal(stats['isPublishing'], true);
    assert.equal((stats['stats'] as Record<string, number>)['messagesPublished'], 100 + 300 + 2);
    const after = sink.events.slice(101).filter((e) => e.event.type !== 'market:stats');
    assert.equal(after.length, 300);
    assert.ok(after.every((e) => e.event.token === 'SOL' && (e.event.type === 'price:update' || e.event.type === 'balance:update')));
    assert.ok(after.some((e) => /^SOL\.balances\.user_\d{4}$/.test(e.channel)));
    await control(base, { action: 'stop' });
  });

  it('configure while stopped is saved for the next start', async () => {
    const a = await control(base, { action: 'configure', profile: 'burst' });
    assert.equal(a.status, 200);
    const c = a.body['configuration'] as Record<string, unknown>;
    assert.equal(c['profile'], 'burst');
    assert.equal(c['messagesPerSecond'], 2000);
    assert.equal(c['duration'], 300);
    await control(base, { action: 'configure', profile: 'sustained', messagesPerSecond: 1000, tokens: 5, events: { trade: 1 } });
  });

  it('duration auto-stops the run', async () => {
    sink.events.length = 0;
    const before = (await call(base, 'GET', '/stats')).body;
    assert.equal(before['isPublishing'], false);
    assert.equal((await control(base, { action: 'start', messagesPerSecond: 200, duration: 2 })).status, 200);
    clock.advance(5000);
    const stats = (await call(base, 'GET', '/stats')).body;
    assert.equal(stats['isPublishing'], false);
    await sink.waitFor(400);
    assert.equal(sink.events.filter((e) => e.event.type !== 'market:stats').length, 400);
  });

  it('ramp profile climbs from 100 events/s', async () => {
    assert.equal((await control(base, { action: 'start', profile: 'ramp', messagesPerSecond: 1100, rampSeconds: 10 })).status, 200);
    const s0 = (await call(base, 'GET', '/stats')).body['stats'] as Record<string, number>;
    assert.equal(s0['targetRate'], 100);
    clock.advance(5000);
    const s1 = (await call(base, 'GET', '/stats')).body['stats'] as Record<string, number>;
    assert.equal(s1['targetRate'], 600);
    await control(base, { action: 'stop', profile: 'sustained' });
  });

  const bad: [string, unknown, RegExp][] = [
    ['missing action', {}, /action/],
    ['unknown action', { action: 'pause' }, /action/],
    ['negative rate', { action: 'start', messagesPerSecond: -5 }, /messagesPerSecond/],
    ['rate as string', { action: 'configure', messagesPerSecond: '100' }, /messagesPerSecond/],
    ['rate too high', { action: 'configure', messagesPerSecond: 1e9 }, /messagesPerSecond/],
    ['negative duration', { action: 'start', duration: -1 }, /duration/],
    ['bad token symbol', { action: 'configure', tokens: ['BTC', 'no way!'] }, /tokens\.1/],
    ['empty tokens', { action: 'configure', tokens: [] }, /tokens/],
    ['token count 0', { action: 'configure', tokens: 0 }, /tokens/],
    ['unknown event kind', { action: 'configure', events: ['trade', 'gossip'] }, /events/],
    ['all-zero weights', { action: 'configure', events: { trade: 0 } }, /events/],
    ['unknown profile', { action: 'start', profile: 'spiky' }, /profile/],
    ['bad rampSeconds', { action: 'configure', rampSeconds: 0 }, /rampSeconds/],
    ['misspelt field', { action: 'start', messagePerSecond: 10 }, /messagePerSecond/],
    ['not an object', [1, 2], /body|expected object/],
  ];
  for (const [name, body, field] of bad) {
    it(`400 naming the field: ${name}`, async () => {
      const a = await control(base, body);
      assert.equal(a.status, 400);
      assert.equal(a.body['success'], false);
      assert.match(String(a.body['message']), field);
    });
  }

  it('400 on a body that is not JSON', async () => {
    const a = await control(base, '{"action": start}');
    assert.equal(a.status, 400);
    assert.match(String(a.body['message']), /JSON/);
  });

  it('nothing changed after bad requests, and not publishing', async () => {
    const s = (await call(base, 'GET', '/stats')).body;
    assert.equal(s['isPublishing'], false);
    assert.equal((s['configuration'] as Record<string, unknown>)['messagesPerSecond'], 1000);
  });

  it('404 JSON on unknown routes, 405 on wrong methods', async () => {
    const a = await call(base, 'GET', '/nope');
    assert.equal(a.status, 404);
    assert.equal(a.body['success'], false);
    const b = await call(base, 'GET', '/control');
    assert.equal(b.status, 405);
    assert.equal(b.headers.get('allow'), 'POST');
  });

  it('CORS: preflight answers 204 and responses carry the allow-origin header', async () => {
    const res = await fetch(`${base}/control`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.org', 'access-control-request-method': 'POST' },
    });
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('access-control-allow-origin'), '*');
    assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
    const s = await call(base, 'GET', '/stats');
    assert.equal(s.headers.get('access-control-allow-origin'), '*');
  });

  it('GET /health: 200 while the sink is up, 503 when it is down', async () => {
    const up = await call(base, 'GET', '/health');
    assert.equal(up.status, 200);
    assert.equal(up.body['status'], 'healthy');
    assert.equal(up.body['nats'], 'connected');
    assert.equal(up.body['publishing'], false);
    assert.equal(typeof up.body['uptime'], 'number');
    assert.deepEqual(up.body['sink'], { kind: 'memory', connected: true, target: 'memory' });
    sink.connected = false;
    try {
      const down = await call(base, 'GET', '/health');
      assert.equal(down.status, 503);
      assert.equal(down.body['nats'], 'disconnected');
    } finally {
      sink.connected = true;
    }
  });

  it('sink failures are counted as errors, not crashes', async () => {
    sink.connected = false;
    try {
      await control(base, { action: 'start', messagesPerSecond: 100 });
      clock.advance(1000);
      const stop = await control(base, { action: 'stop' });
      const s = stop.body['stats'] as Record<string, unknown>;
      assert.equal(s['messagesPublished'], 0);
      // 100 events + the market summary due at 1 s.
      assert.equal(s['errors'], 101);
      assert.match(String(s['lastError']), /disconnected/);
    } finally {
      sink.connected = true;
    }
  });

  it('GET /metrics exposes odin_publisher_* in Prometheus text', async () => {
    await control(base, { action: 'start', messagesPerSecond: 100, events: ['trade'] });
    clock.advance(1000);
    await control(base, { action: 'stop' });
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
    const text = await res.text();
    const trades = (t: string): number => Number(/odin_publisher_events_published_total\{type="trade:new"\} (\d+)/.exec(t)?.[1]);
    const first = trades(text);
    assert.ok(first >= 100, `trade:new total ${first}`);
    // Counters are process-lifetime: a new run (which resets /stats) keeps adding to them.
    await control(base, { action: 'start', messagesPerSecond: 50, events: ['trade'] });
    clock.advance(1000);
    await control(base, { action: 'stop' });
    const again = await (await fetch(`${base}/metrics`)).text();
    assert.equal(trades(again), first + 50);
    assert.ok(/odin_publisher_events_failed_total 101/.test(again), 'failed total kept from the earlier run');
    for (const name of [
      'odin_publisher_events_failed_total',
      'odin_publisher_events_dropped_total',
      'odin_publisher_publishing 0',
      'odin_publisher_target_rate_events_per_second',
      'odin_publisher_achieved_rate_events_per_second',
      'odin_publisher_sink_connected 1',
      'odin_publisher_batch_duration_seconds_bucket',
    ]) {
      assert.ok(text.includes(name), `missing ${name}`);
    }
  });
});

describe('startPublisher options', () => {
  it('rejects bad options with a message naming the key', async () => {
    await assert.rejects(startPublisher({ port: -1 }), /port/);
    await assert.rejects(startPublisher({ messagesPerSecond: 0 }), /messagesPerSecond/);
    await assert.rejects(startPublisher({ sink: { kind: 'gateway', url: 'not a url' } }), /sink\.url/);
  });

  it('autostart publishes at once', async () => {
    const clock = new FakeClock();
    const sink = new MemorySink();
    const pub = await startPublisher({
      port: 0,
      host: '127.0.0.1',
      sink: { kind: 'custom', sink },
      clock,
      autostart: true,
      messagesPerSecond: 20,
      maxInFlight: 10_000,
    });
    try {
      assert.equal(pub.publisher.running, true);
      clock.advance(1000);
      await sink.waitFor(20);
      assert.equal(sink.events.length, 20);
    } finally {
      await pub.close();
    }
    assert.equal(pub.publisher.running, false);
  });
});
