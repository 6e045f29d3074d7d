import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { startGateway } from '../../src/apps/gateway/compose.js';
import { parsePublisherArgs } from '../../src/apps/publisher/main.js';
import { waitFor } from '../testkit/wait.js';

const BIN = fileURLToPath(new URL('../../../bin/odin-ws.js', import.meta.url));

describe('odin-ws publisher flags', () => {
  it('defaults: gateway sink on 127.0.0.1:3002, port 3003', () => {
    const r = parsePublisherArgs([], {});
    assert.equal(r.help, false);
    if (r.help) return;
    assert.equal(r.options.port, 3003);
    assert.deepEqual(r.options.sink, { kind: 'gateway', url: 'http://127.0.0.1:3002' });
    assert.equal(r.options.autostart, false);
  });

  it('environment: PUBLISHER_PORT, GATEWAY_URL, GATEWAY_API_KEY, NATS_URL', () => {
    const env = { PUBLISHER_PORT: '4000', GATEWAY_URL: 'http://gw:3002', GATEWAY_API_KEY: 'k', NATS_URL: 'nats://n:4222' };
    const g = parsePublisherArgs([], env);
    assert.ok(!g.help);
    if (g.help) return;
    assert.equal(g.options.port, 4000);
    assert.deepEqual(g.options.sink, { kind: 'gateway', url: 'http://gw:3002', apiKey: 'k' });
    const n = parsePublisherArgs(['--sink', 'nats', '--jetstream'], env);
    assert.ok(!n.help);
    if (n.help) return;
    assert.deepEqual(n.options.sink, { kind: 'nats', url: 'nats://n:4222', jetstream: true });
  });

  it('flags win over the environment', () => {
    const r = parsePublisherArgs(
      [
        '--port',
        '0',
        '--gateway-url',
        'http://x:1',
        '--api-key',
        'f',
        '--rate',
        '250',
        '--profile',
        'ramp',
        '--duration',
        '9',
        '--ramp-seconds',
        '30',
        '--tokens',
        'btc,PEPE',
        '--autostart',
      ],
      { PUBLISHER_PORT: '4000', GATEWAY_URL: 'http://gw:3002', GATEWAY_API_KEY: 'k' },
    );
    assert.ok(!r.help);
    if (r.help) return;
    assert.equal(r.options.port, 0);
    assert.deepEqual(r.options.sink, { kind: 'gateway', url: 'http://x:1', apiKey: 'f' });
    assert.equal(r.options.messagesPerSecond, 250);
    assert.equal(r.options.profile, 'ramp');
    assert.equal(r.options.duration, 9);
    assert.equal(r.options.rampSeconds, 30);
    assert.deepEqual(r.options.tokens, ['btc', 'PEPE']);
    assert.equal(r.options.autostart, true);
    const count = parsePublisherArgs(['--tokens', '25'], {});
    assert.ok(!count.help && count.options.tokens === 25);
  });

  it('bad flags throw a usage error naming the flag', () => {
    assert.throws(() => parsePublisherArgs(['--sink', 'redis'], {}), /--sink/);
    assert.throws(() => parsePublisherArgs(['--sink', 'kafka', '--kafka-brokers', 'no-port'], {}), /kafka\.brokers/);
    assert.throws(() => parsePublisherArgs(['--sink', 'kafka', '--kafka-partitions', '0'], {}), /--kafka-partitions/);
    assert.throws(() => parsePublisherArgs(['--rate', 'fast'], {}), /--rate/);
    assert.throws(() => parsePublisherArgs(['--profile', 'spiky'], {}), /--profile/);
    assert.throws(() => parsePublisherArgs(['--bogus'], {}), /bogus/);
    assert.deepEqual(parsePublisherArgs(['--help'], {}), { help: true });
  });
});

describe('odin-ws publisher process', () => {
  it('--help prints usage and exits 0', async () => {
    const child = spawn(process.execPath, [BIN, 'publisher', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.match(out, /Usage: odin-ws publisher/);
    assert.match(out, /--gateway-url/);
  });

  it('publishes to a gateway and exits cleanly on SIGTERM', async () => {
    const gw = await startGateway({ port: 0, host: '127.0.0.1', apiKey: 'cli-key' });
    const child = spawn(
      process.execPath,
      [BIN, 'publisher', '--port', '0', '--host', '127.0.0.1', '--gateway-url', gw.url, '--autostart', '--rate', '200'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, GATEWAY_API_KEY: 'cli-key', LOG_LEVEL: 'info' },
      },
    );
    try {
      let log = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (c: Buffer) => {
          log += c.toString();
          const m = /"url":"(http:\/\/[^"]+)".*control API listening/.exec(log);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${log}`)));
      });
      // Poll /stats (each round trip is the wait) until events went through the real gateway.
      const published = async (): Promise<boolean> => {
        const s = (await (await fetch(`${url}/stats`)).json()) as { stats: { messagesPublished: number; errors: number } };
        assert.equal(s.stats.errors, 0);
        return s.stats.messagesPublished > 0;
      };
      await waitFor(published, 10_000, 'a publication through the real gateway (nothing published within 10 s)', { everyMs: 0 });
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = (await exited) as [number];
      assert.equal(code, 0, log);
      assert.match(log, /publisher stopped/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await gw.close();
    }
  });
});
