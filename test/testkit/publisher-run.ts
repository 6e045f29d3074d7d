/**
 * Test-only: one timed publisher run, the set-up the publisher end-to-end tests share — a
 * publisher on a loopback port 0 that starts at once, publishes for `duration` (default 1 s) into
 * `sink`, and is closed after `check` has looked at what it did.
 */
import type { PublisherOptions } from '../../src/lib/publisher/options.js';
import type { PublisherStats } from '../../src/lib/publisher/publisher.js';
import { startPublisher, type RunningPublisher } from '../../src/lib/publisher/server.js';

/** What a run may set besides its loopback address and autostart. */
export type PublisherRunOptions = Omit<PublisherOptions, 'port' | 'host' | 'autostart'>;

/**
 * Starts the publisher, waits until its run has finished and calls `check` with it and its
 * final figures; the publisher is closed whatever `check` does.
 */
export async function afterPublisherRun<T>(
  opts: PublisherRunOptions,
  check: (pub: RunningPublisher, stats: PublisherStats) => Promise<T> | T,
): Promise<T> {
  const pub = await startPublisher({ port: 0, host: '127.0.0.1', duration: 1, autostart: true, ...opts });
  try {
    await pub.publisher.finished();
    return await check(pub, pub.publisher.stats());
  } finally {
    await pub.close();
  }
}
