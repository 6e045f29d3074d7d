/**
 * Server-suggested delays (reconnect.*, docs/protocol.md "Reconnect hints"). Clients told the
 * same thing at the same moment — every client of a node that shuts down, every recovery
 * refused while a storm fills the queue — would otherwise come back together; each gets its
 * own delay, drawn uniformly from the window, so they return spread over it.
 */
export interface ReconnectWindow {
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
}

/** A delay in [minDelayMs, maxDelayMs], whole ms. */
export function suggestDelayMs(w: ReconnectWindow, random: () => number = Math.random): number {
  return Math.round(w.minDelayMs + random() * (w.maxDelayMs - w.minDelayMs));
}

/** The same for HTTP `Retry-After`, which counts whole seconds: at least 1. */
export function suggestRetryAfterSeconds(w: ReconnectWindow, random: () => number = Math.random): number {
  return Math.max(1, Math.ceil(suggestDelayMs(w, random) / 1000));
}
