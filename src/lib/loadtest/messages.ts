/** Messages between the load coordinator and its worker processes (IPC, JSON). */
import type { LoadProtocol } from './protocols.js';

export interface WorkerConfig {
  readonly workerIndex: number;
  readonly workers: number;
  readonly host: string;
  readonly port: number;
  readonly protocol: LoadProtocol;
  /** Overrides the protocol's usual path. */
  readonly path?: string;
  /** Connections over all workers; this worker opens those with index % workers === workerIndex. */
  readonly connections: number;
  /** New connections per second over all workers. */
  readonly connectRate: number;
  /** Channel pool; connection i subscribes to `channelsPerConnection` consecutive ones from i * that. */
  readonly channels: readonly string[];
  readonly channelsPerConnection: number;
  /** One connection in every `trackEvery` is tracked (offsets and latency parsed); the rest only count. */
  readonly trackEvery: number;
  /** Connections per local source address (127.0.0.1, .2, …) before the next one is used. */
  readonly perAddress: number;
  /** Attempts to open a connection again after a failed open (0: a failed open is final). */
  readonly connectRetries: number;
  /** Reconnect (with recovery) after an unexpected close. */
  readonly reconnect: boolean;
  /** Chaos: open connections dropped (TCP destroyed, no close frame) per second over all workers; each reconnects with recovery. */
  readonly dropPerSecond?: number;
  /** Seed of this worker's PRNG: which connections are dropped, reconnect and resubscribe jitter (the same seed, the same draws). */
  readonly seed: number;
  readonly reportIntervalMs: number;
}

/** Connection and delivery counts, as a worker reports them and as the runner sums them. */
export interface LoadCounts {
  readonly attempted: number;
  readonly open: number;
  readonly established: number;
  readonly subscribed: number;
  /** Connections that could not be opened (after retries), by the last attempt's reason. */
  readonly failed: Record<string, number>;
  /** Failed opens that were retried. */
  readonly connectRetried: number;
  readonly disconnects: Record<string, number>;
  readonly reconnects: number;
  readonly recovered: number;
  readonly notRecovered: number;
  readonly serverErrors: Record<string, number>;
  readonly delivered: number;
  readonly trackedDelivered: number;
  readonly inOrder: number;
  readonly missing: number;
  readonly duplicates: number;
  readonly gaps: number;
  /**
   * Channels a connection subscribed to them received something on (with several channels per
   * connection, all of that connection's channels count once it receives anything).
   */
  readonly heardChannels: readonly string[];
}

export interface WorkerReport extends LoadCounts {
  readonly type: 'report';
  readonly workerIndex: number;
  /** Reply to a `flush` request with this id (0 for periodic reports). */
  readonly flushId: number;
  readonly final: boolean;
  /** Histograms since the previous report (compressed base64, '' when empty). */
  readonly latency: string;
  readonly connectTime: string;
  /** process.cpuUsage() of the worker, µs, cumulative. */
  readonly cpuUserUs: number;
  readonly cpuSystemUs: number;
  /** Event-loop utilisation since the previous report, 0..1. */
  readonly elu: number;
  /** Event-loop delay since the previous report, ms. */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly rssBytes: number;
}

export type ToWorker = { type: 'start'; config: WorkerConfig } | { type: 'flush'; id: number } | { type: 'stop' };
export type FromWorker = WorkerReport | { type: 'ready' } | { type: 'fatal'; message: string };
