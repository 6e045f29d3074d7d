/**
 * Kafka liveness without a client library: one ApiVersions request (api key 18, version 0) on a
 * raw socket. A broker answers with its supported API ranges; anything else is not Kafka.
 * Wire format: Kafka protocol guide, "Request Header v1" and "ApiVersions Response v0".
 */
import { tcpExchange, DEFAULT_PROBE_TIMEOUT_MS } from './fetch-json.js';

const API_VERSIONS = 18;
const CLIENT_ID = 'odin-ws-health';

export interface KafkaPing {
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
  /** APIs the broker supports (ApiVersions entries). */
  readonly apis?: number;
}

function apiVersionsRequest(correlationId: number): Buffer {
  const id = Buffer.from(CLIENT_ID, 'utf8');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + id.length);
  let o = body.writeInt16BE(API_VERSIONS, 0);
  o = body.writeInt16BE(0, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(id.length, o);
  id.copy(body, o);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}

/** Sends ApiVersions to `hostPort` ("host:port"). */
export async function kafkaPing(hostPort: string, timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<KafkaPing> {
  const i = hostPort.lastIndexOf(':');
  const host = i > 0 ? hostPort.slice(0, i).replace(/^\[|\]$/g, '') : hostPort;
  const port = i > 0 ? Number(hostPort.slice(i + 1)) : 9092;
  const correlationId = 0x0d1 + Math.floor(Math.random() * 1000);
  const p = await tcpExchange(
    host,
    port,
    apiVersionsRequest(correlationId),
    (b) => b.length >= 4 && b.length >= 4 + b.readInt32BE(0),
    timeoutMs,
  );
  if (!p.ok) return { ok: false, ms: p.ms, error: p.error };
  const b = p.body;
  if (b.length < 14 || b.readInt32BE(4) !== correlationId) return { ok: false, ms: p.ms, error: 'answered, but not as Kafka' };
  const errorCode = b.readInt16BE(8);
  if (errorCode !== 0) return { ok: false, ms: p.ms, error: `ApiVersions error ${errorCode}` };
  return { ok: true, ms: p.ms, apis: b.readInt32BE(10) };
}
