/**
 * Publishes to NATS subjects `odin.token.{SYMBOL}.{event}` and `odin.market.statistics`.
 * Core NATS: publishes the batch and flushes (a PING round trip), so a batch is counted once
 * the server has read it; each message carries `Nats-Msg-Id` = event id too, which the
 * gateway's NATS ingest uses as the idempotency key (instead of hashing the payload). JetStream: each event is published with `Nats-Msg-Id` = event id
 * (the stream deduplicates retries); a stream covering the subjects is created if none exists.
 */
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, headers, nanos, type NatsConnection } from '@nats-io/transport-node';
import type { OdinEvent } from '../../protocol/events.js';
import { RouteCache } from '../routes.js';
import type { EventSink, SinkInfo, SinkResult } from './sink.js';

export interface NatsSinkOptions {
  /** e.g. nats://127.0.0.1:4222 (comma-separated for a cluster). */
  readonly url: string;
  readonly jetstream?: boolean;
  /** Stream created when no stream covers `odin.token.>` yet. Default ODIN_EVENTS. */
  readonly stream?: string;
  /** Max age of that stream's messages, ms. Default 1 h. */
  readonly streamMaxAgeMs?: number;
  /** Core NATS: add the `Nats-Msg-Id` header (event id). Default true. */
  readonly msgIdHeader?: boolean;
}

export const DEFAULT_STREAM = 'ODIN_EVENTS';
const DEFAULT_STREAM_MAX_AGE_MS = 3_600_000;
const STREAM_SUBJECTS = ['odin.token.>', 'odin.market.statistics'];

export class NatsSink implements EventSink {
  private nc: NatsConnection | null = null;
  private js: JetStreamClient | null = null;
  private connected = false;
  private readonly routes = new RouteCache();

  constructor(private readonly opts: NatsSinkOptions) {}

  async connect(): Promise<void> {
    const nc = await connect({
      servers: this.opts.url.split(','),
      name: 'odin-ws-publisher',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    });
    this.nc = nc;
    this.connected = true;
    void this.watch(nc);
    if (this.opts.jetstream) {
      const jsm = await jetstreamManager(nc);
      try {
        await jsm.streams.find('odin.token.BTC.trade');
      } catch {
        await jsm.streams.add({
          name: this.opts.stream ?? DEFAULT_STREAM,
          subjects: STREAM_SUBJECTS,
          max_age: nanos(this.opts.streamMaxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS),
          duplicate_window: nanos(120_000),
        });
      }
      this.js = jetstream(nc);
    }
  }

  async publish(events: readonly OdinEvent[]): Promise<SinkResult> {
    const nc = this.nc;
    if (nc === null || nc.isClosed()) return { published: 0, failed: events.length, error: 'nats connection closed' };
    return this.js === null ? this.publishCore(nc, events) : this.publishJetStream(this.js, events);
  }

  isConnected(): boolean {
    return this.connected && this.nc !== null && !this.nc.isClosed();
  }

  info(): SinkInfo {
    return { kind: 'nats', connected: this.isConnected(), target: redact(this.opts.url), jetstream: this.js !== null };
  }

  async close(): Promise<void> {
    const nc = this.nc;
    this.nc = null;
    this.connected = false;
    if (nc === null || nc.isClosed()) return;
    try {
      await nc.drain();
    } catch {
      // Draining needs the server; when it is gone, just close.
      await nc.close();
    }
  }

  private async publishCore(nc: NatsConnection, events: readonly OdinEvent[]): Promise<SinkResult> {
    let sent = 0;
    try {
      const withId = this.opts.msgIdHeader ?? true;
      for (const e of events) {
        if (withId) {
          const h = headers();
          h.set('Nats-Msg-Id', e.id);
          nc.publish(this.routes.route(e).subject, JSON.stringify(e), { headers: h });
        } else nc.publish(this.routes.route(e).subject, JSON.stringify(e));
        sent++;
      }
      await nc.flush();
      return { published: sent, failed: events.length - sent };
    } catch (err) {
      return { published: 0, failed: events.length, error: `nats publish failed: ${err instanceof Error ? err.message : String(err)}` };
    }
  }

  private async publishJetStream(js: JetStreamClient, events: readonly OdinEvent[]): Promise<SinkResult> {
    const acks = events.map((e) => js.publish(this.routes.route(e).subject, JSON.stringify(e), { msgID: e.id }));
    let published = 0;
    let error: string | undefined;
    for (const r of await Promise.allSettled(acks)) {
      if (r.status === 'fulfilled') published++;
      else error ??= `jetstream publish failed: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`;
    }
    const failed = events.length - published;
    return error === undefined ? { published, failed } : { published, failed, error };
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'close') this.connected = false;
      else if (s.type === 'reconnect') this.connected = true;
    }
    this.connected = false;
  }
}

/** The URL without user:password. */
function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, '//');
}
