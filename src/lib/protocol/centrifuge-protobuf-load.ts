/**
 * The Centrifugo protobuf wire (centrifuge-protobuf.ts with `@bufbuild/protobuf` and the generated
 * client.proto code, ~11 MiB of RSS) is loaded the first time a protobuf client or emulation
 * request arrives, not at start: a JSON-only gateway never loads it.
 *
 * Who may meet protobuf awaits `loadProtobuf()` first — the WebSocket upgrade of a
 * `centrifuge-protobuf` client, the emulation endpoints for an `application/octet-stream` body —
 * and the code behind them (the protocol client, the hub's push encoding, the emulation parser)
 * reads it synchronously with `protobufWire()`: the hub can only have protobuf subscribers once a
 * protobuf client was accepted, so the module is loaded by then.
 */
type ProtobufWire = typeof import('./centrifuge-protobuf.js');

let wire: ProtobufWire | null = null;
let loading: Promise<ProtobufWire> | null = null;

/** Loads the protobuf wire once; later calls resolve at once. A failed load is retried by the next call. */
export function loadProtobuf(): Promise<ProtobufWire> {
  if (wire !== null) return Promise.resolve(wire);
  loading ??= import('./centrifuge-protobuf.js').then(
    (m) => (wire = m),
    (err: unknown) => {
      loading = null;
      throw err;
    },
  );
  return loading;
}

/** Whether the protobuf wire has been loaded (a JSON-only process: false). */
export function protobufLoaded(): boolean {
  return wire !== null;
}

/** The loaded protobuf wire. Throws when nobody awaited `loadProtobuf()` first: a bug in the caller, never a client's doing. */
export function protobufWire(): ProtobufWire {
  if (wire === null) throw new Error('the protobuf wire is not loaded: await loadProtobuf() before serving a protobuf client');
  return wire;
}
