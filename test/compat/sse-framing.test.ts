/**
 * Units of the emulated transports: a stream's framing over the WebSocket transport's prepared
 * frames (the payload view of each length class), one line per JSON reply, the disconnect push
 * on close, and exactly one onClose.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { HttpStreamSink } from '../../src/lib/core/transport.js';
import { framePayload, frameText } from '../../src/lib/transport-ws/ws-transport.js';
import {
  FRAMING_NDJSON,
  FRAMING_PROTOBUF,
  FRAMING_SSE,
  oneLine,
  StreamConnection,
  type Framing,
} from '../../src/lib/transport-emulation/stream-connection.js';
import { parseEmulationRequest } from '../../src/lib/protocol/centrifuge-emulation.js';
import { loadProtobuf } from '../../src/lib/protocol/centrifuge-protobuf-load.js';

// The protobuf wire is loaded by whoever meets protobuf first (the endpoints); these units call below them.
before(() => loadProtobuf());

class FakeSink implements HttpStreamSink {
  chunks: Buffer[] = [];
  ended = 0;
  destroyed = 0;
  bufferedAmount = 0;
  private listener: (() => void) | null = null;
  write(chunk: Uint8Array): void {
    this.chunks.push(Buffer.from(chunk));
  }
  end(): void {
    this.ended++;
    this.listener?.();
  }
  destroy(): void {
    this.destroyed++;
    this.listener?.();
  }
  onClose(l: () => void): void {
    this.listener = l;
  }
  get text(): string {
    return Buffer.concat(this.chunks).toString();
  }
}

function open(framing: Framing): { sink: FakeSink; conn: StreamConnection; closes: number[]; gone: number[] } {
  const sink = new FakeSink();
  const closes: number[] = [];
  const gone: number[] = [];
  const conn = new StreamConnection(sink, framing, framePayload, () => gone.push(1));
  conn.handler = { onMessage: () => undefined, onPong: () => undefined, onClose: (code) => closes.push(code) };
  return { sink, conn, closes, gone };
}

test('payloadOf a ws frame is the payload, for each header length', () => {
  for (const n of [0, 125, 126, 65535, 65536, 70000]) {
    const payload = Buffer.alloc(n, 0x61);
    assert.deepEqual(Buffer.from(framePayload(frameText(payload))), payload, `length ${n}`);
    assert.deepEqual(Buffer.from(framePayload(frameText(payload, true))), payload, `binary length ${n}`);
  }
});

test('http_stream JSON: one reply a line, all frames of a flush in one write; raw CR/LF become spaces', () => {
  const { sink, conn } = open(FRAMING_NDJSON);
  conn.write([frameText(Buffer.from('{"a":1}')), frameText(Buffer.from('{"b":\n\r2}'))]);
  assert.equal(sink.chunks.length, 1);
  assert.equal(sink.text, '{"a":1}\n{"b":  2}\n');
  const same = Buffer.from('{"x":1}');
  assert.equal(oneLine(same), same, 'no copy without CR/LF');
});

test('SSE: a data event per reply', () => {
  const { sink, conn } = open(FRAMING_SSE);
  conn.write([frameText(Buffer.from('{"a":1}')), frameText(Buffer.from('{}'))]);
  assert.equal(sink.text, 'data: {"a":1}\n\ndata: {}\n\n');
});

test('protobuf: payloads as they are (already varint-delimited)', () => {
  const { sink, conn } = open(FRAMING_PROTOBUF);
  conn.write([frameText(Buffer.from([2, 8, 1]), true), frameText(Buffer.from([0]), true)]);
  assert.deepEqual([...Buffer.concat(sink.chunks)], [2, 8, 1, 0]);
});

test('close: the disconnect push, the end of the response, one onClose with the code; then nothing', () => {
  const { sink, conn, closes, gone } = open(FRAMING_NDJSON);
  conn.close(3503, 'force disconnect');
  assert.equal(sink.text, '{"push":{"disconnect":{"code":3503,"reason":"force disconnect","reconnect":false}}}\n');
  assert.equal(sink.ended, 1);
  assert.deepEqual(closes, [3503]);
  assert.equal(gone.length, 1);
  conn.write([frameText(Buffer.from('{}'))]);
  conn.close(3000, 'again');
  conn.terminate();
  assert.equal(sink.chunks.length, 1);
  assert.deepEqual(closes, [3503]);
  const sse = open(FRAMING_SSE);
  sse.conn.close(3001, 'shutdown');
  assert.equal(sse.sink.text, 'data: {"push":{"disconnect":{"code":3001,"reason":"shutdown","reconnect":true}}}\n\n');
});

test('the peer going away: one onClose (1006), the session forgotten', () => {
  const { sink, conn, closes, gone } = open(FRAMING_NDJSON);
  sink.destroy();
  conn.terminate();
  assert.deepEqual(closes, [1006]);
  assert.equal(gone.length, 1);
});

test('emulation request bodies: JSON and protobuf, and what is refused', () => {
  const ok = parseEmulationRequest(Buffer.from('{"session":"s","node":"n","data":"{\\"id\\":2}"}'), false);
  assert.deepEqual(ok, { session: 's', node: 'n', data: Buffer.from('{"id":2}') });
  for (const bad of [
    '',
    'null',
    '"x"',
    '{"session":1,"node":"n","data":"x"}',
    '{"session":"s","node":"n","data":""}',
    '{"session":"s","data":"x"}',
  ])
    assert.equal(typeof parseEmulationRequest(Buffer.from(bad), false), 'string', bad);
  // EmulationRequest{node:"n"(1), session:"s"(2), data:[7](3)}
  const pb = Buffer.from([0x0a, 1, 0x6e, 0x12, 1, 0x73, 0x1a, 1, 7]);
  assert.deepEqual(parseEmulationRequest(pb, true), { session: 's', node: 'n', data: Buffer.from([7]) });
  assert.equal(typeof parseEmulationRequest(Buffer.from([0xff]), true), 'string');
});
