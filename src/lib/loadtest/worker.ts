/**
 * A load worker process: opens its share of the connections at its share of the connect
 * rate, subscribes them, counts and measures what arrives, and reports to the coordinator.
 * Separate processes (not threads) so that each has its own event loop and its own file
 * descriptor limit, and its CPU is its own.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import { LatencyHistogram } from '../histogram/histogram.js';
import type { FromWorker, ToWorker, WorkerConfig, WorkerReport } from './messages.js';
import { adapterFor, Session, type ProtocolAdapter, type Sink } from './protocols.js';
import { emptyCounts } from './sequence.js';
import { WsClient, type WsClientEvents } from './ws-client.js';
import { WsClose } from '../protocol/codes.js';
import { Rng } from '../core/rng.js';

/** Connect ticks, ms: new connections are opened in small batches this often. */
const CONNECT_TICK_MS = 10;
/** Reconnect delay after an unexpected close: base + random jitter, ms. */
const RECONNECT_BASE_MS = 250;
const RECONNECT_JITTER_MS = 750;
const DROP_TICK_MS = 100;
/** Time allowed for closing handshakes at stop, ms. */
const STOP_GRACE_MS = 2000;

interface ConnTag {
  session: Session;
  startedAt: number;
}

function bump(r: Record<string, number>, k: string): void {
  r[k] = (r[k] ?? 0) + 1;
}

export class LoadWorker implements WsClientEvents {
  /** Channels some connection subscribed to them has received on. */
  private readonly heardChannels = new Set<string>();
  private readonly adapter: ProtocolAdapter;
  private readonly clients = new Set<WsClient>();
  private readonly latency = new LatencyHistogram();
  private readonly connectTime = new LatencyHistogram();
  private readonly sink: Sink;
  /** Every random draw of this worker (chaos drops, jitter): seeded, so a run can be replayed. */
  private readonly rng: Rng;
  private attempted = 0;
  private established = 0;
  private subscribed = 0;
  private reconnects = 0;
  private connectRetried = 0;
  private trackedDelivered = 0;
  private readonly failed: Record<string, number> = {};
  private readonly disconnects: Record<string, number> = {};
  private stopping = false;
  private allClosed: (() => void) | null = null;
  private nextIndex: number;
  private rampTimer: NodeJS.Timeout | null = null;
  private reportTimer: NodeJS.Timeout | null = null;
  private dropTimer: NodeJS.Timeout | null = null;
  private lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private lastEluValue = 0;
  private lastDelayP99 = 0;
  private lastDelayMax = 0;
  private readonly host: string;
  private readonly loopback: boolean;

  constructor(
    private readonly cfg: WorkerConfig,
    private readonly send: (m: FromWorker) => void,
  ) {
    this.adapter = adapterFor(cfg.protocol);
    this.rng = new Rng(cfg.seed);
    this.nextIndex = cfg.workerIndex;
    this.host = cfg.host;
    this.loopback = /^127\./.test(cfg.host) || cfg.host === 'localhost';
    const onSubscribed = (): void => {
      this.subscribed++;
    };
    this.sink = {
      delivered: 0,
      latency: this.latency,
      seq: emptyCounts(),
      recovered: 0,
      notRecovered: 0,
      serverErrors: {},
      onSubscribed,
      rng: this.rng,
    };
    this.loopDelay.enable();
  }

  start(): void {
    const perTick = (this.cfg.connectRate / this.cfg.workers) * (CONNECT_TICK_MS / 1000);
    let credit = 0;
    const tick = (): void => {
      credit += perTick;
      while (credit >= 1 && this.nextIndex < this.cfg.connections && !this.stopping) {
        credit -= 1;
        this.open(this.newSession(this.nextIndex));
        this.nextIndex += this.cfg.workers;
      }
      if (this.nextIndex >= this.cfg.connections || this.stopping) {
        if (this.rampTimer) clearInterval(this.rampTimer);
        this.rampTimer = null;
      }
    };
    this.rampTimer = setInterval(tick, CONNECT_TICK_MS);
    tick();
    this.reportTimer = setInterval(() => this.report(0, false), this.cfg.reportIntervalMs);
    if (this.cfg.dropPerSecond) this.startDropping(this.cfg.dropPerSecond / this.cfg.workers);
  }

  /** Chaos: destroys random open connections (the client side of a network fault); onClose reconnects them. */
  private startDropping(perSecond: number): void {
    let credit = 0;
    this.dropTimer = setInterval(() => {
      credit += perSecond * (DROP_TICK_MS / 1000);
      if (this.stopping || this.clients.size === 0) return;
      const open = [...this.clients];
      for (; credit >= 1; credit--) open[this.rng.int(open.length)]?.destroy();
    }, DROP_TICK_MS);
  }

  private newSession(i: number): Session {
    const { channels, channelsPerConnection: k } = this.cfg;
    const mine: string[] = [];
    for (let j = 0; j < Math.min(k, channels.length); j++) mine.push(channels[(i * k + j) % channels.length]!);
    // One connection in each block of `trackEvery`, at a position that rotates from block to
    // block, so tracked connections cover every channel of the pool (i % trackEvery alone
    // would pick connections that all share the same channels).
    const t = this.cfg.trackEvery;
    return new Session(i, mine, i % t === Math.floor(i / t) % t);
  }

  private open(session: Session): void {
    this.attempted++;
    const i = session.index;
    // The first address's share connects unbound (the kernel's connect-time port choice is
    // fast and may reuse TIME_WAIT ports); later shares bind a source address 127.0.0.k, k ≥ 2.
    const k = Math.floor(i / this.cfg.perAddress);
    const localAddress = this.loopback && k > 0 ? `127.0.0.${1 + k}` : undefined;
    const c = new WsClient(
      { host: this.host, port: this.cfg.port, path: this.cfg.path ?? this.adapter.path, ...(localAddress ? { localAddress } : {}) },
      this,
    );
    const tag: ConnTag = { session, startedAt: performance.now() };
    c.tag = tag;
    this.clients.add(c);
  }

  onOpen(c: WsClient): void {
    const tag = c.tag as ConnTag;
    this.established++;
    this.connectTime.record((performance.now() - tag.startedAt) * 1000);
    tag.session.subscribed = false;
    this.adapter.onOpen(c, tag.session);
  }

  onMessage(c: WsClient, buf: Buffer, start: number, end: number): void {
    const s = (c.tag as ConnTag).session;
    const before = this.sink.delivered;
    this.adapter.onMessage(c, s, this.sink, buf, start, end);
    if (s.tracked) this.trackedDelivered += this.sink.delivered - before;
    if (!s.heard && this.sink.delivered > before) {
      s.heard = true;
      for (const ch of s.channels) this.heardChannels.add(ch);
    }
  }

  onClose(c: WsClient, code: number, reason: string, wasOpen: boolean): void {
    this.clients.delete(c);
    const s = (c.tag as ConnTag).session;
    if (this.stopping) {
      if (this.clients.size === 0) this.allClosed?.();
      return;
    }
    if (!wasOpen) {
      if (++s.failedOpens <= this.cfg.connectRetries) {
        this.connectRetried++;
        this.attempted--;
        setTimeout(
          () => {
            if (!this.stopping) this.open(s);
          },
          // A refusal's Retry-After (503 over capacity or draining) is the server's own jittered hint.
          c.retryAfterMs ?? RECONNECT_BASE_MS * s.failedOpens + this.rng.next() * RECONNECT_JITTER_MS,
        ).unref();
        return;
      }
      bump(this.failed, reason);
    } else {
      bump(this.disconnects, `${code}${reason && reason !== 'closed' ? ' ' + reason.slice(0, 40) : ''}`);
      if (s.subscribed) this.subscribed--;
    }
    if (this.cfg.reconnect && wasOpen) {
      // The server's `reconnect_delay_ms` (Odin disconnect notice) when it sent one.
      const hint = s.reconnectDelayMs;
      s.reconnectDelayMs = null;
      s.hadSession = true;
      s.subscribed = false;
      setTimeout(
        () => {
          if (this.stopping) return;
          this.reconnects++;
          this.open(s);
        },
        hint ?? RECONNECT_BASE_MS + this.rng.next() * RECONNECT_JITTER_MS,
      ).unref();
    }
  }

  report(flushId: number, final: boolean): void {
    // Event-loop figures are per periodic interval; an on-demand flush reuses the last ones.
    if (flushId === 0) {
      this.lastEluValue = performance.eventLoopUtilization(this.lastElu).utilization;
      this.lastElu = performance.eventLoopUtilization();
      this.lastDelayP99 = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
      this.lastDelayMax = this.loopDelay.count > 0 ? this.loopDelay.max / 1e6 : 0;
      this.loopDelay.reset();
    }
    const cpu = process.cpuUsage();
    const seq = this.sink.seq;
    const r: WorkerReport = {
      type: 'report',
      workerIndex: this.cfg.workerIndex,
      flushId,
      final,
      attempted: this.attempted,
      open: this.clients.size,
      established: this.established,
      subscribed: this.subscribed,
      failed: this.failed,
      connectRetried: this.connectRetried,
      disconnects: this.disconnects,
      reconnects: this.reconnects,
      recovered: this.sink.recovered,
      notRecovered: this.sink.notRecovered,
      serverErrors: this.sink.serverErrors,
      delivered: this.sink.delivered,
      heardChannels: [...this.heardChannels],
      trackedDelivered: this.trackedDelivered,
      inOrder: seq.inOrder,
      missing: seq.missing,
      duplicates: seq.duplicates,
      gaps: seq.gaps,
      latency: this.latency.encode(),
      connectTime: this.connectTime.encode(),
      cpuUserUs: cpu.user,
      cpuSystemUs: cpu.system,
      elu: this.lastEluValue,
      loopDelayP99Ms: this.lastDelayP99,
      loopDelayMaxMs: this.lastDelayMax,
      rssBytes: process.memoryUsage.rss(),
    };
    this.latency.reset();
    this.connectTime.reset();
    this.send(r);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.rampTimer) clearInterval(this.rampTimer);
    if (this.reportTimer) clearInterval(this.reportTimer);
    if (this.dropTimer) clearInterval(this.dropTimer);
    if (this.clients.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, STOP_GRACE_MS);
        this.allClosed = () => {
          clearTimeout(timer);
          resolve();
        };
        for (const c of [...this.clients]) c.close(WsClose.Normal);
      });
    }
    for (const c of this.clients) c.destroy();
  }
}

function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

/** Process entry: driven by IPC from the coordinator. */
function main(): void {
  const send = (m: FromWorker): void => {
    if (process.connected) process.send?.(m);
  };
  let worker: LoadWorker | null = null;
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    switch (m.type) {
      case 'start':
        worker = new LoadWorker(m.config, send);
        worker.start();
        return;
      case 'flush':
        worker?.report(m.id, false);
        return;
      case 'stop':
        void (async () => {
          if (worker) {
            await worker.stop();
            worker.report(0, true);
          }
          process.disconnect?.();
          setTimeout(() => process.exit(0), 200).unref();
        })();
        return;
    }
  });
  process.on('disconnect', () => setTimeout(() => process.exit(0), 500).unref());
  send({ type: 'ready' });
}

if (process.send !== undefined && process.env.ODIN_LOADTEST_WORKER === '1') main();
