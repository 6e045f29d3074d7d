/**
 * startPublisher(): the publisher as a library — sink + engine + control API on a port.
 * `odin-ws publisher` (main.ts) and `odin-ws dev` both use it.
 */
import { NodeHttpServer } from '../http/node-server.js';
import { createControlApi } from './control-api.js';
import { PublisherError } from './errors.js';
import { createMetrics } from './metrics.js';
import { resolveOptions, type PublisherOptions, type SinkOptions } from './options.js';
import { Publisher } from './publisher.js';
import { GatewaySink } from './sinks/gateway-sink.js';
import { NatsSink } from './sinks/nats-sink.js';
import { KafkaSink } from './sinks/kafka-sink.js';
import type { EventSink } from './sinks/sink.js';

export interface RunningPublisher {
  /** Control API base URL, e.g. http://127.0.0.1:3003. */
  readonly url: string;
  readonly port: number;
  readonly publisher: Publisher;
  readonly sink: EventSink;
  /** Stops publishing, closes the control API and the sink. Idempotent. */
  close(): Promise<void>;
}

export function createSink(opts: SinkOptions): EventSink {
  switch (opts.kind) {
    case 'gateway':
      return new GatewaySink({ url: opts.url, apiKey: opts.apiKey, maxBatch: opts.maxBatch });
    case 'nats':
      return new NatsSink({ url: opts.url, jetstream: opts.jetstream, stream: opts.stream });
    case 'kafka':
      return new KafkaSink({ connection: opts.connection, partitions: opts.partitions, replicas: opts.replicas });
    case 'custom':
      return opts.sink;
  }
}

export async function startPublisher(input: PublisherOptions = {}): Promise<RunningPublisher> {
  const opts = resolveOptions(input);
  const sink = createSink(opts.sink);
  try {
    await sink.connect();
  } catch (err) {
    await sink.close().catch(() => {});
    throw new PublisherError(
      'sink_unavailable',
      `cannot connect the ${opts.sink.kind} sink: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const publisher = new Publisher(opts, sink, (s) => metrics.observeBatch(s));
  const metrics = createMetrics(publisher.metricsSource, opts.processMetrics);
  const http = createControlApi({
    publisher,
    sink,
    metrics,
    logger: opts.logger,
    startedAt: opts.clock.now(),
    now: () => opts.clock.now(),
    controlKey: opts.controlKey,
  });
  let server: NodeHttpServer;
  try {
    server = await NodeHttpServer.listen({ host: opts.host, port: opts.port, http });
  } catch (err) {
    await sink.close().catch(() => {});
    throw new PublisherError(
      'listen_failed',
      `cannot listen on ${opts.host}:${opts.port}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  const port = server.port;
  const host = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  opts.logger.info({ url, sink: sink.info() }, 'publisher control API listening');
  if (opts.autostart) publisher.start();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await publisher.stop();
      await server.close();
      await sink.close();
    })();
    return closing;
  };
  return { url, port, publisher, sink, close };
}
