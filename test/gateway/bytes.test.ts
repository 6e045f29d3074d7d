/**
 * Issue 20: a publisher's bytes arrive unchanged. Generated JSON texts (big integers, `1.10`,
 * exponents, `-0.0`, `\u` escapes, unusual whitespace) are published on every path of one
 * gateway (server API publish / broadcast / batch / legacy `/api`, client publish in JSON and
 * protobuf) and read back, as raw frames, by every subscriber kind (Odin WebSocket, Centrifugo
 * JSON and protobuf WebSockets, HTTP-streaming, SSE), from history (server API) and from
 * recovery (Centrifugo and Odin). Nothing here parses a payload to compare it: the bytes are
 * cut out of the frames.
 *
 * The line-delimited framings (Centrifugo JSON frames, HTTP-streaming, SSE, and the legacy `/api`
 * and client-publish commands, which are "\n"-separated too) cannot hold a raw line feed: there
 * the payload arrives without its raw LFs (whitespace between tokens), as Centrifugo sends it,
 * and on the HTTP streams a raw CR is a space too (SSE reads CR as a line end); nothing else
 * changes (docs/protocol.md). Everywhere else, byte for byte.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import fc from 'fast-check';
import WebSocket from 'ws';
import { create, fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, sizeDelimitedEncode } from '@bufbuild/protobuf/wire';
import { startGateway, type RunningGateway } from '../../src/apps/gateway/compose.js';
import { DEFAULT_NAMESPACES } from '../../src/lib/core/options.js';
import { CommandSchema, ReplySchema } from '../../src/lib/protocol/gen/client_pb.js';
import { withoutLineFeeds } from '../../src/lib/protocol/json-text.js';
import { ISSUE_20_ROWS, jsonText } from '../testkit/json-text-arb.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'bytes-key';
const CH = 'bytes.c';
const enc = new TextEncoder();

/** What one subscriber received, payload bytes by offset. */
class Received {
  readonly byOffset = new Map<number, Buffer>();
  readonly lines: string[] = [];
  add(offset: number, data: Buffer | string): void {
    this.byOffset.set(offset, Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8'));
  }
}

/** The payload text of a publication object line that ends `…,"offset":N…}`: cut, not parsed. */
function cutCentrifugeData(line: string, prefix: string, offset: number): string {
  assert.ok(line.startsWith(prefix), line.slice(0, 80));
  const end = line.lastIndexOf(`,"offset":${offset}`);
  assert.ok(end > prefix.length, line.slice(0, 80));
  return line.slice(prefix.length, end);
}

/** Where `,"offset":N` ends a publication object's payload (followed by `}` or `,"info"`), from `from` on. */
function offsetMark(text: string, offset: number, from: number): number {
  const mark = `,"offset":${offset}`;
  for (let i = text.indexOf(mark, from); i >= 0; i = text.indexOf(mark, i + 1)) {
    const next = text[i + mark.length];
    if (next === '}' || next === ',') return i;
  }
  throw new Error(`no ${mark} in ${text.slice(0, 200)}`);
}

const PUSH_PREFIX = `{"push":{"channel":"${CH}","pub":{"data":`;

function onCentrifugeLine(r: Received, line: string): void {
  if (line === '' || line === '{}') return;
  r.lines.push(line);
  const m = JSON.parse(line) as { push?: { pub?: { offset?: number } } };
  const off = m.push?.pub?.offset;
  if (off !== undefined) r.add(off, cutCentrifugeData(line, PUSH_PREFIX, off));
}

async function openWs(url: string, protocols?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function pbFrame(...cmds: Parameters<typeof create<typeof CommandSchema>>[1][]): Buffer {
  return Buffer.concat(cmds.map((c) => sizeDelimitedEncode(CommandSchema, create(CommandSchema, c))));
}

/** A streaming HTTP response (HTTP-streaming or SSE), its body handed over as it arrives. */
function openStream(url: string, method: 'GET' | 'POST', body: string | null, onText: (t: string) => void): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: body !== null ? { 'content-type': 'application/json' } : {} }, (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', onText);
      res.on('error', () => undefined);
      resolve(() => req.destroy());
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

describe('issue 20: data byte for byte on every path', () => {
  let gw: RunningGateway;
  let ws: string;
  const closers: (() => void)[] = [];
  const odin = new Received();
  const cjson = new Received();
  const cpb = new Received();
  const stream = new Received();
  const sse = new Received();
  let publisherJson: WebSocket;
  let publisherPb: WebSocket;
  let epoch = '';
  let lastOffset = 0;
  let commandId = 10;

  before(async () => {
    gw = await startGateway({
      port: 0,
      host: '127.0.0.1',
      apiKey: KEY,
      commandRatePerSecond: 100_000,
      commandBurst: 100_000,
      namespaces: [
        ...DEFAULT_NAMESPACES,
        { name: 'bytes', pattern: 'bytes\\.[a-z0-9]+', publish: true, historySize: 100_000, recoveryMax: 100_000 },
      ],
    });
    ws = gw.url.replace('http', 'ws');

    const o = await openWs(`${ws}/ws`);
    o.on('message', (d: Buffer) => {
      const text = d.toString('utf8');
      const m = JSON.parse(text) as { channel?: string; offset?: number; data?: unknown };
      // An Odin push ends with `,"data":<payload>}`; the first `,"data":` is it (strings before
      // it escape their quotes).
      if (m.channel === CH && m.offset !== undefined) odin.add(m.offset, text.slice(text.indexOf(',"data":') + 8, -1));
    });
    o.send(JSON.stringify({ type: 'subscribe', data: { channels: [CH] } }));

    const j = await openWs(`${ws}/connection/websocket`);
    j.on('message', (d: Buffer) =>
      d
        .toString('utf8')
        .split('\n')
        .forEach((l) => onCentrifugeLine(cjson, l)),
    );
    j.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${CH}"}}`);

    const p = await openWs(`${ws}/connection/websocket`, 'centrifuge-protobuf');
    p.on('message', (d: Buffer) => {
      const reader = new BinaryReader(d);
      while (reader.pos < reader.len) {
        const r = fromBinary(ReplySchema, reader.bytes());
        const pub = r.push?.pub;
        if (r.push?.channel === CH && pub) cpb.add(Number(pub.offset), Buffer.from(pub.data));
      }
    });
    p.send(pbFrame({ id: 1, connect: {} }, { id: 2, subscribe: { channel: CH } }));

    const first = `{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${CH}"}}`;
    let partial = '';
    closers.push(
      await openStream(`${gw.url}/connection/http_stream`, 'POST', first, (t) => {
        const lines = (partial + t).split('\n');
        partial = lines.pop()!;
        lines.forEach((l) => onCentrifugeLine(stream, l));
      }),
    );
    let ssePartial = '';
    closers.push(
      await openStream(`${gw.url}/connection/sse?cf_connect=${encodeURIComponent(first)}`, 'GET', null, (t) => {
        const events = (ssePartial + t).split('\n\n');
        ssePartial = events.pop()!;
        for (const e of events) if (e.startsWith('data: ')) onCentrifugeLine(sse, e.slice(6));
      }),
    );

    publisherJson = await openWs(`${ws}/connection/websocket`);
    publisherJson.send('{"id":1,"connect":{}}');
    publisherPb = await openWs(`${ws}/connection/websocket`, 'centrifuge-protobuf');
    publisherPb.send(pbFrame({ id: 1, connect: {} }));
    closers.push(
      () => o.close(),
      () => j.close(),
      () => p.close(),
      () => publisherJson.close(),
      () => publisherPb.close(),
    );
    // Every subscriber is in (each sees a first publication), so later offsets reach all.
    await post('/api/publish', `{"channel":"${CH}","data":{"warm":1}}`);
    lastOffset = 1;
    await waitFor(() => [odin, cjson, cpb, stream, sse].every((r) => r.byOffset.has(1)), 5000, 'every subscriber');
    epoch = ((await (await post('/api/history', `{"channel":"${CH}"}`)).json()) as { result: { epoch: string } }).result.epoch;
  });

  after(async () => {
    for (const c of closers) c();
    await gw.close();
  });

  function post(path: string, body: string): Promise<Response> {
    return fetch(`${gw.url}${path}`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body });
  }

  async function apiOk(path: string, body: string): Promise<void> {
    const res = await post(path, body);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.ok(!text.includes('"error"'), text);
  }

  /** The publishing paths: each publishes `t` (or its one-line form, where the framing needs it) once. */
  const paths: { name: string; lineDelimited: boolean; publish(t: string): Promise<void> }[] = [
    { name: 'API publish', lineDelimited: false, publish: (t) => apiOk('/api/publish', `{"channel":"${CH}","data":${t}}`) },
    { name: 'API broadcast', lineDelimited: false, publish: (t) => apiOk('/api/broadcast', `{"channels":["${CH}"],"data":${t}}`) },
    {
      name: 'API batch',
      lineDelimited: false,
      publish: (t) => apiOk('/api/batch', `{"commands":[{"publish":{"channel":"${CH}","Data":${t}}}]}`),
    },
    {
      name: 'legacy /api',
      lineDelimited: true,
      publish: (t) => apiOk('/api', `{"method":"publish","params":{"channel":"${CH}","data":${t}}}`),
    },
    {
      name: 'client publish (JSON)',
      lineDelimited: true,
      publish: async (t) => {
        const id = ++commandId;
        const done = new Promise<void>((resolve, reject) => {
          const on = (d: Buffer): void => {
            const line = d.toString('utf8');
            if (!line.startsWith(`{"id":${id},`)) return;
            publisherJson.off('message', on);
            if (line.includes('"error"')) reject(new Error(line));
            else resolve();
          };
          publisherJson.on('message', on);
        });
        publisherJson.send(`{"id":${id},"publish":{"channel":"${CH}","data":${t}}}`);
        await done;
      },
    },
    {
      name: 'client publish (protobuf)',
      lineDelimited: false,
      publish: async (t) => {
        const id = ++commandId;
        const done = new Promise<void>((resolve, reject) => {
          const on = (d: Buffer): void => {
            const r = fromBinary(ReplySchema, new BinaryReader(d).bytes());
            if (r.id !== id) return;
            publisherPb.off('message', on);
            if (r.error) reject(new Error(r.error.message));
            else resolve();
          };
          publisherPb.on('message', on);
        });
        publisherPb.send(pbFrame({ id, publish: { channel: CH, data: enc.encode(t) } }));
        await done;
      },
    },
  ];

  /** Publishes `t` on every path; checks every subscriber, history and both recoveries. */
  async function roundTrip(t: string): Promise<void> {
    const from = lastOffset;
    const expected: string[] = [];
    for (const p of paths) {
      const sent = p.lineDelimited ? withoutLineFeeds(t) : t;
      await p.publish(sent);
      expected.push(sent);
    }
    lastOffset += paths.length;
    const top = lastOffset;
    await waitFor(() => [odin, cjson, cpb, stream, sse].every((r) => r.byOffset.has(top)), 5000, `offset ${top} everywhere`);
    for (let i = 0; i < paths.length; i++) {
      const off = from + 1 + i;
      const sent = expected[i]!;
      const what = `${paths[i]!.name} → %s, ${JSON.stringify(t)}`;
      assert.equal(odin.byOffset.get(off)!.toString('utf8'), sent, what.replace('%s', 'Odin'));
      assert.ok(cpb.byOffset.get(off)!.equals(Buffer.from(sent)), what.replace('%s', 'protobuf'));
      // Line-delimited framings: the same text without raw LFs; the HTTP streams also turn a raw CR into a space.
      const line = withoutLineFeeds(sent);
      assert.equal(cjson.byOffset.get(off)!.toString('utf8'), line, what.replace('%s', 'Centrifugo JSON'));
      for (const [name, r] of [
        ['HTTP-streaming', stream],
        ['SSE', sse],
      ] as const) {
        assert.equal(r.byOffset.get(off)!.toString('utf8'), line.replaceAll('\r', ' '), what.replace('%s', name));
      }
    }
    // History through the server API: the stored bytes, one JSON response (no line framing).
    const h = await (
      await post('/api/history', `{"channel":"${CH}","limit":${paths.length},"since":{"offset":${from},"epoch":"${epoch}"}}`)
    ).text();
    let at = 0;
    for (let i = 0; i < paths.length; i++) {
      const open = h.indexOf('{"data":', at) + 8;
      const close = offsetMark(h, from + 1 + i, open);
      assert.equal(h.slice(open, close), expected[i], `history of ${paths[i]!.name}`);
      at = close;
    }
    await recoverCentrifugo(from, expected);
    await recoverOdin(from, expected);
  }

  async function recoverCentrifugo(from: number, expected: string[]): Promise<void> {
    const c = await openWs(`${ws}/connection/websocket`);
    const reply = new Promise<string>((resolve) =>
      c.on('message', (d: Buffer) => {
        for (const l of d.toString('utf8').split('\n')) if (l.startsWith('{"id":2,')) resolve(l);
      }),
    );
    c.send(`{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"${CH}","recover":true,"offset":${from},"epoch":"${epoch}"}}`);
    const line = await reply;
    c.close();
    let at = line.indexOf('"publications":[');
    assert.ok(at > 0, line.slice(0, 200));
    for (let i = 0; i < expected.length; i++) {
      const open = line.indexOf('{"data":', at) + 8;
      const close = offsetMark(line, from + 1 + i, open);
      assert.equal(line.slice(open, close), withoutLineFeeds(expected[i]!), `Centrifugo recovery of ${paths[i]!.name}`);
      at = close;
    }
  }

  async function recoverOdin(from: number, expected: string[]): Promise<void> {
    const c = await openWs(`${ws}/ws`);
    const got = new Map<number, string>();
    c.on('message', (d: Buffer) => {
      const text = d.toString('utf8');
      const m = JSON.parse(text) as { channel?: string; offset?: number };
      if (m.channel === CH && m.offset !== undefined) got.set(m.offset, text.slice(text.indexOf(',"data":') + 8, -1));
    });
    c.send(JSON.stringify({ type: 'subscribe', data: { channels: [CH], positions: { [CH]: { offset: from, epoch } } } }));
    await waitFor(() => got.size >= expected.length, 5000, 'Odin recovery');
    c.close();
    for (let i = 0; i < expected.length; i++) assert.equal(got.get(from + 1 + i), expected[i], `Odin recovery of ${paths[i]!.name}`);
  }

  test("the four rows of issue 20's table, on every path", async () => {
    for (const row of ISSUE_20_ROWS) await roundTrip(row);
  });

  test('whitespace inside and around values, a BOM-free U+FEFF in a string, an empty object and array', async () => {
    for (const t of ['{ "a" :\t[ 1 ,\n2 ]\r\n}', '"\ufeff\u2028"', '{}', '[ ]', '-0.0', '1E+400', '"\\ud800"']) await roundTrip(t);
  });

  test('property: any JSON text arrives byte-identical on each subscriber kind, in history and in recovery', async () => {
    await fc.assert(
      // A top-level `null` is "no data" to the server API (fields are read as Go reads them:
      // null = absent; docs/protocol.md), so it is refused there with 107 rather than published.
      fc.asyncProperty(
        jsonText.filter((t) => t !== 'null'),
        async (t) => {
          await roundTrip(t);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('protobuf publish keeps whitespace around the value too; bytes that are not UTF-8 JSON are refused with 107', async () => {
    const t = ' \n{"a":1.0}\t';
    const id = ++commandId;
    const replies: { id: number; code?: number }[] = [];
    const on = (d: Buffer): void => {
      const r = fromBinary(ReplySchema, new BinaryReader(d).bytes());
      replies.push({ id: r.id, ...(r.error ? { code: r.error.code } : {}) });
    };
    publisherPb.on('message', on);
    publisherPb.send(
      pbFrame(
        { id, publish: { channel: CH, data: enc.encode(t) } },
        { id: id + 1, publish: { channel: CH, data: Uint8Array.from([0x7b, 0xff, 0x7d]) } },
        { id: id + 2, publish: { channel: CH, data: enc.encode('{"a":01}') } },
      ),
    );
    commandId += 2;
    await waitFor(() => replies.length >= 3, 5000, 'three replies');
    publisherPb.off('message', on);
    assert.deepEqual(replies, [{ id }, { id: id + 1, code: 107 }, { id: id + 2, code: 107 }]);
    lastOffset++;
    await waitFor(() => odin.byOffset.has(lastOffset) && cpb.byOffset.has(lastOffset), 5000, 'the publication');
    assert.equal(odin.byOffset.get(lastOffset)!.toString(), t);
    assert.ok(cpb.byOffset.get(lastOffset)!.equals(Buffer.from(t)));
    await waitFor(() => cjson.byOffset.has(lastOffset), 5000, 'JSON push');
    assert.equal(cjson.byOffset.get(lastOffset)!.toString(), withoutLineFeeds(t));
  });

  test('a server API body that is not UTF-8 is refused with 107, never published with replacement characters', async () => {
    const res = await fetch(`${gw.url}/api/publish`, {
      method: 'POST',
      headers: { 'x-api-key': KEY },
      body: Buffer.concat([Buffer.from(`{"channel":"${CH}","data":"`), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]),
    });
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, 107);
    assert.match(body.error.message, /UTF-8/);
  });
});
