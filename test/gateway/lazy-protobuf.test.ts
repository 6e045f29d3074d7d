/**
 * Issue 25: a JSON-only gateway never loads the Centrifugo protobuf wire (`@bufbuild/protobuf`,
 * the generated client.proto code, centrifuge-protobuf.ts; ~11 MiB of RSS), and the first
 * protobuf client loads it and is served: connect, subscribe, a publication pushed in protobuf.
 *
 * What the process loaded is read from the process itself: `odin-ws gateway` runs as a child
 * with a module loader hook (`--import` of a registrar, `module.register`) that appends the URL
 * of every ES module it loads to a file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { create, fromBinary } from '@bufbuild/protobuf';
import { BinaryReader, sizeDelimitedEncode } from '@bufbuild/protobuf/wire';
import { CommandSchema, ReplySchema, type Reply } from '../../src/lib/protocol/gen/client_pb.js';
import { callApi, startGatewayProcess, type GatewayProcess } from '../testkit/gateway-process.js';
import { waitFor } from '../testkit/wait.js';

const KEY = 'lazy-protobuf-key';
/** A module of the protobuf wire, by its URL. */
const PROTOBUF_MODULE = /\/@bufbuild\/protobuf\/|\/protocol\/gen\/client_pb\.js$|\/protocol\/centrifuge-protobuf\.js$/;

let dir: string;
let loadedFile: string;
let gw: GatewayProcess;
const sockets: WebSocket[] = [];

function loaded(): string[] {
  return readFileSync(loadedFile, 'utf8').split('\n').filter(Boolean);
}

async function open(url: string, protocol?: string): Promise<WebSocket> {
  const ws = new WebSocket(url, protocol);
  sockets.push(ws);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'odin-lazy-pb-'));
  loadedFile = join(dir, 'loaded.txt');
  writeFileSync(loadedFile, '');
  const hooks = join(dir, 'hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';
let file;
export function initialize(data) { file = data.file; }
export async function load(url, context, next) { appendFileSync(file, url + '\\n'); return next(url, context); }
`,
  );
  const registrar = join(dir, 'register.mjs');
  writeFileSync(
    registrar,
    `import { register } from 'node:module';
register(${JSON.stringify(pathToFileURL(hooks).href)}, { data: { file: ${JSON.stringify(loadedFile)} } });
`,
  );
  gw = await startGatewayProcess({
    natsUrl: '',
    apiKey: KEY,
    broker: 'memory',
    env: { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${pathToFileURL(registrar).href}`.trim() },
  });
});

after(async () => {
  for (const s of sockets) s.terminate();
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a JSON-only gateway serves Centrifugo JSON and Odin clients without loading the protobuf wire', async () => {
  const j = await open(`${gw.wsUrl}/connection/websocket`);
  const lines: string[] = [];
  j.on('message', (d: Buffer) => lines.push(...d.toString('utf8').split('\n')));
  j.send('{"id":1,"connect":{}}\n{"id":2,"subscribe":{"channel":"BTC.trade"}}');
  await waitFor(() => lines.some((l) => l.startsWith('{"id":2')), 5000, 'the JSON subscribe reply');

  const o = await open(`${gw.wsUrl}/ws`);
  const odin: string[] = [];
  o.on('message', (d: Buffer) => odin.push(d.toString('utf8')));
  o.send(JSON.stringify({ type: 'subscribe', data: { channels: ['BTC.trade'] } }));
  await waitFor(() => odin.some((m) => m.includes('subscribed')), 5000, 'the Odin subscribe ack');

  const r = await callApi(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { p: 1 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor(() => lines.some((l) => l.includes('"pub":{"data":{"p":1}')), 5000, 'the JSON push');
  await waitFor(() => odin.some((m) => m.includes('"data":{"p":1}')), 5000, 'the Odin push');

  const urls = loaded();
  // The hook saw the gateway's own modules (so an absence below means something).
  assert.ok(
    urls.some((u) => u.endsWith('/protocol/centrifuge-codec.js')),
    'the loader hook recorded the gateway modules',
  );
  assert.deepEqual(
    urls.filter((u) => PROTOBUF_MODULE.test(u)),
    [],
  );
});

test('the first protobuf client loads the protobuf wire and is served: connect, subscribe, a pushed publication', async () => {
  const p = await open(`${gw.wsUrl}/connection/websocket`, 'centrifuge-protobuf');
  assert.equal(p.protocol, 'centrifuge-protobuf');
  const replies: Reply[] = [];
  p.on('message', (d: Buffer) => {
    const reader = new BinaryReader(d);
    while (reader.pos < reader.len) replies.push(fromBinary(ReplySchema, reader.bytes()));
  });
  const frame = Buffer.concat(
    [
      { id: 1, connect: {} },
      { id: 2, subscribe: { channel: 'BTC.trade' } },
    ].map((c) => sizeDelimitedEncode(CommandSchema, create(CommandSchema, c))),
  );
  p.send(frame);
  await waitFor(() => replies.some((r) => r.id === 2), 5000, 'the protobuf subscribe reply');
  const connect = replies.find((r) => r.id === 1);
  assert.ok(connect?.connect?.client, 'a connect reply with a client id');
  assert.equal(replies.find((r) => r.id === 2)?.error, undefined);

  const r = await callApi(gw.url, KEY, 'publish', { channel: 'BTC.trade', data: { p: 2 } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor(() => replies.some((x) => x.push?.pub !== undefined), 5000, 'the protobuf push');
  const pub = replies.find((x) => x.push?.pub !== undefined)!.push!;
  assert.equal(pub.channel, 'BTC.trade');
  assert.equal(Buffer.from(pub.pub!.data).toString('utf8'), '{"p":2}');

  assert.ok(
    loaded().some((u) => PROTOBUF_MODULE.test(u)),
    'the protobuf wire is loaded now',
  );
});
