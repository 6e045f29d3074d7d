/**
 * Names a client addresses on the wire, in one place so that every side (the gateway that serves
 * them, the load tester and the CLI tools that dial them, the dashboard page) imports them from the
 * bottom layer instead of from each other.
 */

/** The WebSocket path of each client protocol (docs/protocol.md). */
export const WS_PATH = Object.freeze({
  odin: '/ws',
  centrifuge: '/connection/websocket',
} as const);

/** Centrifugo's unidirectional WebSocket (served with `uniTransports: true`): the server only pushes. */
export const UNI_WS_PATH = '/connection/uni_websocket';

/**
 * The reserved channels of the `_odin` namespace (docs/dashboard.md): every gateway process
 * publishes its stats row to `_odin.stats`; `odin-ws loadtest --report-to` publishes its progress
 * to `_odin.loadtest` through the server API. Anyone may read them; no client may publish to them.
 */
export const RESERVED_NAMESPACE = '_odin';
export const STATS_CHANNEL = `${RESERVED_NAMESPACE}.stats`;
export const LOADTEST_CHANNEL = `${RESERVED_NAMESPACE}.loadtest`;
