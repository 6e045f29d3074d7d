/** Core-only microbenchmarks' connection: counts the frames written to it, sends nothing. */
import type { FrameEncoder, PreparedFrame, TransportConnection } from '../../src/lib/core/transport.js';

export class NullConnection implements TransportConnection {
  frames = 0;
  bufferedAmount = 0;
  write(frames: readonly PreparedFrame[]): void {
    this.frames += frames.length;
  }
  ping(): void {}
  close(): void {}
  terminate(): void {}
}

/** Frames are their payloads (no WebSocket framing). */
export const nullEncoder: FrameEncoder = { prepare: (p) => p, payloadOf: (f) => f };
