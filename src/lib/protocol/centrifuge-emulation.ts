/**
 * The body of a request to Centrifugo's emulation endpoint (`POST /emulation`): how a client on a
 * one-way stream (HTTP-streaming, SSE) sends the commands after its first one. centrifuge-js
 * sends `{"session","node","data"}` as JSON, `data` being the JSON protocol's commands as a
 * string; or, with `Content-Type: application/octet-stream`, client.proto's `EmulationRequest`
 * whose `data` holds varint-delimited `Command`s (parsed by the protobuf wire: the caller awaits
 * `loadProtobuf()` before passing a protobuf body).
 */
import { protobufWire } from './centrifuge-protobuf-load.js';

export interface EmulationRequest {
  readonly session: string;
  readonly node: string;
  /** The commands, as a WebSocket frame of the session's protocol would carry them. */
  readonly data: Buffer;
}

/** Longest session or node id accepted, characters (ours are UUIDs and short ids). */
const MAX_ID_LENGTH = 128;

/** The request, or why it is malformed (a message for a 400 answer). */
export function parseEmulationRequest(body: Buffer, protobuf: boolean): EmulationRequest | string {
  let session: unknown;
  let node: unknown;
  let data: Buffer;
  if (protobuf) {
    const r = protobufWire().pbEmulationRequest(body);
    if (r === null) return 'body is not a protobuf EmulationRequest';
    ({ session, node, data } = r);
  } else {
    let v: unknown;
    try {
      v = JSON.parse(body.toString('utf8'));
    } catch {
      return 'body is not JSON';
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'body must be an object {"session","node","data"}';
    const o = v as Record<string, unknown>;
    ({ session, node } = o);
    if (typeof o.data !== 'string') return '"data" must be a string holding the JSON commands';
    data = Buffer.from(o.data);
  }
  if (typeof session !== 'string' || session === '' || session.length > MAX_ID_LENGTH) return '"session" must be a non-empty string';
  if (typeof node !== 'string' || node.length > MAX_ID_LENGTH) return '"node" must be a string';
  if (data.length === 0) return '"data" is empty';
  return { session, node, data };
}
