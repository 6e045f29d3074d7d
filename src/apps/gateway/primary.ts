/**
 * `--workers N`: the primary process that runs N gateway processes on one port (Node cluster:
 * the primary accepts and hands connections to workers round-robin; each worker is a full
 * gateway — its own composition root and NATS connection — and they agree through JetStream).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '../../lib/core/logger.js';
import { EXIT_PORT_UNAVAILABLE } from '../../lib/runtime/exit-codes.js';
import { serveProcessGroup } from '../../lib/server/process-group.js';

/** Restart budget: a worker that keeps crashing is restarted at most this often, ms. */
const WORKER_RESTART_MIN_INTERVAL_MS = 1_000;

/**
 * The primary of `--workers N`: forks N workers running the same command line, restarts a
 * worker that dies (at most once a second per slot), and on SIGINT/SIGTERM asks each to shut
 * down gracefully and exits when all have.
 */
export function runPrimary(n: number, log: Logger): void {
  let stopping = false;
  const lastStart = new Map<number, number>();
  const fork = (slot: number): void => {
    lastStart.set(slot, Date.now());
    const w: Worker = cluster.fork({ ODIN_WS_WORKER_SLOT: String(slot) });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      if (code === EXIT_PORT_UNAVAILABLE) {
        // Restarting cannot help: the port is taken or not allowed (the worker said which).
        stopping = true;
        for (const o of Object.values(cluster.workers ?? {})) o?.process.kill('SIGTERM');
        process.exit(EXIT_PORT_UNAVAILABLE);
      }
      log.error({ slot, pid: w.process.pid, code, signal }, 'worker died; restarting');
      const wait = Math.max(0, (lastStart.get(slot) ?? 0) + WORKER_RESTART_MIN_INTERVAL_MS - Date.now());
      setTimeout(() => fork(slot), wait);
    });
  };
  serveProcessGroup(log);
  for (let i = 0; i < n; i++) fork(i);
  log.info({ workers: n, pid: process.pid }, 'gateway primary started');
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping workers');
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    let left = workers.length;
    if (left === 0) process.exit(0);
    for (const w of workers) {
      w.once('exit', () => {
        if (--left === 0) process.exit(0);
      });
      w.process.kill('SIGTERM');
    }
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export function isClusterPrimary(): boolean {
  return cluster.isPrimary;
}
