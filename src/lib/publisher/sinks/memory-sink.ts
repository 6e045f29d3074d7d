import type { OdinEvent } from '../../protocol/events.js';
import { RouteCache } from '../routes.js';
import type { EventSink, SinkInfo, SinkResult } from './sink.js';

export interface MemorySinkOptions {
  /** Keep at most this many events (oldest dropped). Default 100000. */
  readonly capacity?: number;
}

/** Keeps events in memory, with their channels; for tests and embedding. */
export class MemorySink implements EventSink {
  readonly events: { event: OdinEvent; channel: string }[] = [];
  connected = true;
  private readonly routes = new RouteCache();
  private readonly capacity: number;
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private total = 0;

  constructor(opts: MemorySinkOptions = {}) {
    this.capacity = opts.capacity ?? 100_000;
  }

  async connect(): Promise<void> {}

  async publish(events: readonly OdinEvent[]): Promise<SinkResult> {
    if (!this.connected) return { published: 0, failed: events.length, error: 'memory sink disconnected' };
    for (const event of events) this.events.push({ event, channel: this.routes.route(event).channel });
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
    this.total += events.length;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (this.total >= w.count) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
    return { published: events.length, failed: 0 };
  }

  /** Resolves once `count` events in total have been published to this sink. */
  waitFor(count: number): Promise<void> {
    if (this.total >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  isConnected(): boolean {
    return this.connected;
  }

  info(): SinkInfo {
    return { kind: 'memory', connected: this.connected, target: 'memory' };
  }

  async close(): Promise<void> {}
}
