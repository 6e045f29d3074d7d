/**
 * Property-based tests (fast-check) of both codecs and of the frame path through the fake
 * transport: random and mutated inputs never throw, never stall, and always get a documented
 * answer (an error code of the catalogue, a reply, or a close with a catalogue code).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCentrifugeFrame } from '../../src/lib/protocol/centrifuge.js';
import { parseCentrifugeParams } from '../../src/lib/protocol/centrifuge-params.js';
import { Disconnect, ErrorCode, isProtocolError } from '../../src/lib/protocol/codes.js';
import { parseOdinCommand } from '../../src/lib/protocol/odin.js';
import { parseStreamPosition } from '../../src/lib/protocol/position.js';
import { MemoryBroker } from '../../src/lib/core/broker-memory.js';
import { Gateway } from '../../src/lib/core/gateway.js';
import { DEFAULT_NAMESPACES, resolveGatewayOptions } from '../../src/lib/core/options.js';
import { FakeConnection, FakeTransport } from '../testkit/fake-transport.js';
import { waitFor } from '../testkit/wait.js';
import { systemClock } from '../../src/lib/runtime/clock.js';

const ERROR_CODES = new Set<number>(Object.values(ErrorCode));
const CLOSE_CODES = new Set<number>(Object.values(Disconnect).map((d) => d.code));

const VALID_ODIN = [
  '{"type":"subscribe","data":{"channels":["BTC.trade","ETH.trade"]}}',
  '{"type":"subscribe","data":{"channels":["BTC.trade"],"positions":{"BTC.trade":{"offset":3,"epoch":"abc"}}}}',
  '{"type":"unsubscribe","data":{"channels":["BTC.trade"]}}',
  '{"type":"heartbeat"}',
];
const VALID_CENTRIFUGE = [
  '{"id":2,"subscribe":{"channel":"BTC.trade","recover":true,"offset":1,"epoch":"e"}}',
  '{"id":3,"publish":{"channel":"chat.room","data":{"a":[1,2,{"b":null}]}}}',
  '{"id":4,"history":{"channel":"BTC.trade","limit":5,"since":{"offset":1,"epoch":"e"}}}',
  '{"id":5,"presence":{"channel":"BTC.trade"}}\n{"id":6,"unsubscribe":{"channel":"BTC.trade"}}',
  '{}',
];

/** A valid command with random edits: replaced, inserted or deleted characters, or truncated. */
function mutated(valid: readonly string[]): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.tuple(fc.constant('replace' as const), fc.nat(), fc.string({ minLength: 1, maxLength: 3 })),
    fc.tuple(
      fc.constant('insert' as const),
      fc.nat(),
      fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', '\n', '0', '-1', 'null', '1e400'),
    ),
    fc.tuple(fc.constant('delete' as const), fc.nat(), fc.integer({ min: 1, max: 4 })),
    fc.tuple(fc.constant('truncate' as const), fc.nat(), fc.constant(0)),
  );
  return fc.tuple(fc.constantFrom(...valid), fc.array(edit, { minLength: 1, maxLength: 4 })).map(([s, edits]) => {
    for (const [kind, at, arg] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (kind === 'replace') s = s.slice(0, i) + String(arg) + s.slice(i + String(arg).length);
      else if (kind === 'insert') s = s.slice(0, i) + String(arg) + s.slice(i);
      else if (kind === 'delete') s = s.slice(0, i) + s.slice(i + Number(arg));
      else s = s.slice(0, i);
    }
    return s;
  });
}

/** Structured garbage: JSON values shaped like commands, with wrong types everywhere. */
const odinShaped = fc
  .record(
    {
      type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'heartbeat', 'ping'), fc.string(), fc.integer()),
      data: fc.oneof(
        fc.record(
          {
            channels: fc.oneof(fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant('BTC.trade'))), fc.string(), fc.constant(null)),
            positions: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  )
  .map((v) => JSON.stringify(v));

const centrifugeShaped = fc
  .tuple(
    fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.string(), fc.constant(1.5)),
    fc.constantFrom(
      'connect',
      'subscribe',
      'unsubscribe',
      'publish',
      'history',
      'presence',
      'presence_stats',
      'refresh',
      'rpc',
      'send',
      'bogus',
    ),
    fc.oneof(
      fc.record(
        {
          channel: fc.oneof(fc.constant('BTC.trade'), fc.constant('chat.room'), fc.string(), fc.integer()),
          recover: fc.boolean(),
          offset: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
          epoch: fc.oneof(fc.string(), fc.integer()),
          since: fc.jsonValue(),
          limit: fc.oneof(fc.integer({ min: -3, max: 50 }), fc.string()),
          data: fc.jsonValue(),
          token: fc.oneof(fc.string(), fc.integer()),
        },
        { requiredKeys: [] },
      ),
      fc.jsonValue(),
    ),
  )
  .map(([id, method, params]) => JSON.stringify({ id, [method]: params }));

/** Deeply nested payloads in the places that carry JSON data. */
const deeplyNested = fc
  .tuple(fc.integer({ min: 1, max: 6000 }), fc.constantFrom('publish', 'odin-positions', 'history-since'))
  .map(([n, where]) => {
    const d = '['.repeat(n) + ']'.repeat(n);
    if (where === 'publish') return `{"id":7,"publish":{"channel":"chat.room","data":${d}}}`;
    if (where === 'history-since') return `{"id":8,"history":{"channel":"BTC.trade","since":${d}}}`;
    return `{"type":"subscribe","data":{"channels":["BTC.trade"],"positions":{"BTC.trade":${d}}}}`;
  });

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.json());

test('Odin codec: any text parses to a command or to error 104/107 with a message, never throws', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, mutated(VALID_ODIN), odinShaped, deeplyNested), (text) => {
      const r = parseOdinCommand(text);
      if (!r.ok) {
        assert.ok(r.code === ErrorCode.BadRequest || r.code === ErrorCode.MethodNotFound, String(r.code));
        assert.equal(typeof r.message, 'string');
      } else assert.ok(['subscribe', 'unsubscribe', 'heartbeat'].includes(r.command.type));
    }),
    { numRuns: 1500 },
  );
});

test('Centrifugo codec: any frame splits into known items; typed params are a command or error 107, never throw', () => {
  fc.assert(
    fc.property(fc.oneof(anyText, mutated(VALID_CENTRIFUGE), centrifugeShaped, deeplyNested), (text) => {
      for (const item of parseCentrifugeFrame(text)) {
        assert.ok(['command', 'pong', 'unknown', 'bad'].includes(item.kind));
        if (item.kind !== 'command') continue;
        const p = parseCentrifugeParams(item.command);
        if (isProtocolError(p)) assert.equal(p.code, ErrorCode.BadRequest);
        else assert.equal(p.method, item.command.method);
      }
    }),
    { numRuns: 1500 },
  );
});

test('stream positions: any value is a valid position or error 107', () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.boolean(), (v, zero) => {
      const r = parseStreamPosition(v, 'p', { zeroDefaults: zero });
      if (isProtocolError(r)) assert.equal(r.code, ErrorCode.BadRequest);
      else assert.ok(Number.isSafeInteger(r.offset) && r.offset >= 0 && typeof r.epoch === 'string');
    }),
    { numRuns: 1000 },
  );
});

test('frame path (fake transport, both protocols): every input is answered or closes with a catalogue code; the node keeps serving', async () => {
  const transport = new FakeTransport();
  const gw = new Gateway(
    resolveGatewayOptions({
      commandRatePerSecond: 1e6,
      commandBurst: 1e6,
      namespaces: [{ name: 'chat', pattern: 'chat\\.[a-z]+', publish: true, presence: true }, ...DEFAULT_NAMESPACES],
    }),
    { broker: new MemoryBroker({ clock: systemClock }), transport, clock: systemClock },
  );
  await gw.start();
  const open = (protocol: 'odin' | 'centrifuge') => {
    const c = transport.connect(gw, { protocol });
    if (!(c instanceof FakeConnection)) throw new Error(c.reason);
    return c;
  };
  let odin = open('odin');
  let cent = open('centrifuge');
  const connectCent = async () => {
    cent = open('centrifuge');
    cent.send('{"id":1,"connect":{}}');
    await waitFor(() => cent.messages().some((m) => m.id === 1), 2000, 'connect reply');
  };
  await connectCent();
  const input = fc.oneof(
    { weight: 1, arbitrary: anyText },
    { weight: 2, arbitrary: mutated([...VALID_ODIN, ...VALID_CENTRIFUGE]) },
    { weight: 2, arbitrary: odinShaped },
    { weight: 2, arbitrary: centrifugeShaped },
    { weight: 1, arbitrary: deeplyNested },
  );
  await fc.assert(
    fc.asyncProperty(input, fc.boolean(), async (text, binary) => {
      // Odin: every frame gets at least one message back (ack, pong, error), or a close.
      if (odin.closed) odin = open('odin');
      const before = odin.frames.length;
      odin.handler.onMessage(Buffer.from(text), binary);
      await waitFor(() => odin.frames.length > before || odin.closed !== null, 2000, `an answer to ${JSON.stringify(text)}`);
      for (const m of odin.messages().slice(-3)) if (m.type === 'error') assert.ok(ERROR_CODES.has(m.code as number), String(m.code));
      if (odin.closed) assert.ok(CLOSE_CODES.has(odin.closed.code), String(odin.closed.code));
      // Centrifugo: an answer for every command with an id, or a close; answered with a ping.
      if (cent.closed) await connectCent();
      cent.handler.onMessage(Buffer.from(text), binary);
      cent.send('{"id":999999,"presence_stats":{"channel":"nope.x"}}');
      await waitFor(
        () => cent.closed !== null || cent.messages().some((m) => m.id === 999999),
        2000,
        `centrifuge after ${JSON.stringify(text)}`,
      );
      for (const m of cent.messages().filter((x) => x.error !== undefined))
        assert.ok(ERROR_CODES.has((m.error as { code: number }).code), JSON.stringify(m.error));
      if (cent.closed) assert.ok(CLOSE_CODES.has(cent.closed.code), String(cent.closed.code));
      cent.frames.length = 0;
    }),
    { numRuns: 300 },
  );
  // Still serving: a fresh subscriber gets a publication.
  const c = open('odin');
  c.send({ type: 'subscribe', data: { channels: ['SOL.trade'] } });
  await waitFor(() => c.messages().some((m) => m.type === 'subscription_ack'));
  await gw.api.publish({ channel: 'SOL.trade', data: '{"ok":1}' });
  await waitFor(() => c.messages().some((m) => m.channel === 'SOL.trade' && m.offset === 1));
  await gw.shutdown();
});
