/** Test helper (also used by bench/chaos): the real `centrifuge` SDK in Node, recording what a subscription sees. */
import { Centrifuge, type Subscription, type SubscribedContext } from 'centrifuge';
import WebSocket from 'ws';
import type { StreamPosition } from '../../src/lib/core/broker.js';

export interface SeenPub {
  readonly offset: number;
  readonly data: unknown;
}

export class SdkSubscriber {
  readonly client: Centrifuge;
  readonly sub: Subscription;
  readonly pubs: SeenPub[] = [];
  readonly subscribed: SubscribedContext[] = [];
  /** Last known position: epoch from the subscribe reply, offset from the last publication. */
  position: StreamPosition | null = null;
  private waiters: (() => void)[] = [];

  constructor(wsUrl: string, channel: string, since?: StreamPosition) {
    this.client = new Centrifuge(`${wsUrl}/connection/websocket`, {
      websocket: WebSocket,
      minReconnectDelay: 100,
      maxReconnectDelay: 1000,
    });
    this.sub = this.client.newSubscription(channel, since ? { since } : {});
    this.sub.on('subscribed', (ctx) => {
      this.subscribed.push(ctx);
      if (ctx.streamPosition) this.position = { offset: ctx.streamPosition.offset, epoch: ctx.streamPosition.epoch };
      this.wake();
    });
    this.sub.on('publication', (ctx) => {
      const offset = ctx.offset ?? -1;
      this.pubs.push({ offset, data: ctx.data });
      if (this.position) this.position = { offset, epoch: this.position.epoch };
      this.wake();
    });
    this.sub.subscribe();
    this.client.connect();
  }

  waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!cond()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (have ${this.pubs.length} pubs)`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  close(): void {
    this.client.disconnect();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
