/**
 * The one logging surface of odin-ws: core, the server, the publisher and the apps all take
 * this; pino's logger satisfies it (src/lib/runtime/logger.ts makes one).
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Logs nothing: the default for libraries and tests. */
export const silentLogger: Logger = Object.freeze({ debug() {}, info() {}, warn() {}, error() {} });
