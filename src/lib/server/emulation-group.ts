/**
 * `/emulation` across the workers of `--workers N`. Node's cluster hands each TCP connection to
 * a worker round-robin, so a client's emulation request rarely reaches the worker that holds its
 * stream (each worker is a gateway node with its own id). A worker that does not hold the
 * session asks the primary over the cluster IPC channel; the primary knows each worker's node
 * id (announced at start) and hands the request to that worker, whose answer travels back.
 * Without cluster (one process) nothing here is used; across hosts see docs/protocol.md.
 */
import cluster, { type Worker } from 'node:cluster';
import type { DeliveryResult, EmulationDelivery, SessionRouter } from '../transport-emulation/emulation.js';

/** How long a worker waits for the session's worker to answer, ms (then 404: the SDK reconnects). */
export const EMULATION_GROUP_TIMEOUT_MS = 5_000;

const HELLO = 'odin-ws:emu-hello';
const REQ = 'odin-ws:emu-req';
const DELIVER = 'odin-ws:emu-deliver';
const DONE = 'odin-ws:emu-done';
const RES = 'odin-ws:emu-res';

interface Carried {
  session: string;
  node: string;
  /** base64: IPC messages are JSON. */
  data: string;
  protobuf: boolean;
}
type EmuMessage =
  | { type: typeof HELLO; node: string }
  | ({ type: typeof REQ; id: number } & Carried)
  | ({ type: typeof DELIVER; id: number } & Carried)
  | { type: typeof DONE; id: number; result: DeliveryResult }
  | { type: typeof RES; id: number; result: DeliveryResult };

const isEmuMessage = (m: unknown): m is EmuMessage =>
  typeof m === 'object' &&
  m !== null &&
  typeof (m as { type?: unknown }).type === 'string' &&
  (m as { type: string }).type.startsWith('odin-ws:emu-');

const carried = (d: EmulationDelivery): Carried => ({
  session: d.session,
  node: d.node,
  data: d.data.toString('base64'),
  protobuf: d.protobuf,
});
const delivery = (c: Carried): EmulationDelivery => ({
  session: c.session,
  node: c.node,
  data: Buffer.from(c.data, 'base64'),
  protobuf: c.protobuf,
});

/**
 * In a worker of `--workers N`: announces this node, serves deliveries the primary routes here
 * with `deliverLocal`, and returns the router for requests naming another worker's node. Null
 * outside such a worker.
 */
export function joinEmulationGroup(nodeId: string, deliverLocal: (d: EmulationDelivery) => DeliveryResult): SessionRouter | null {
  if (!cluster.isWorker || !process.send || process.env.ODIN_WS_WORKER_SLOT === undefined) return null;
  const waiting = new Map<number, (r: DeliveryResult) => void>();
  let nextId = 1;
  process.on('message', (m: unknown) => {
    if (!isEmuMessage(m)) return;
    if (m.type === DELIVER) process.send!({ type: DONE, id: m.id, result: deliverLocal(delivery(m)) } satisfies EmuMessage);
    else if (m.type === RES) waiting.get(m.id)?.(m.result);
  });
  process.send({ type: HELLO, node: nodeId } satisfies EmuMessage);
  return {
    forward(d) {
      const id = nextId++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => finish('unknown_session'), EMULATION_GROUP_TIMEOUT_MS);
        function finish(r: DeliveryResult): void {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(r);
        }
        waiting.set(id, finish);
        process.send!({ type: REQ, id, ...carried(d) } satisfies EmuMessage);
      });
    },
  };
}

/** In the primary of `--workers N`: routes emulation requests to the worker of their node. */
export function serveEmulationGroup(): void {
  const nodes = new Map<string, Worker>();
  const pending = new Map<number, { from: Worker; id: number; timer: NodeJS.Timeout }>();
  let nextId = 1;
  const answer = (to: Worker, id: number, result: DeliveryResult): void => {
    if (to.isConnected()) to.send({ type: RES, id, result } satisfies EmuMessage);
  };
  cluster.on('message', (worker: Worker, m: unknown) => {
    if (!isEmuMessage(m)) return;
    if (m.type === HELLO) {
      nodes.set(m.node, worker);
      worker.once('exit', () => {
        if (nodes.get(m.node) === worker) nodes.delete(m.node);
      });
    } else if (m.type === REQ) {
      const target = nodes.get(m.node);
      if (!target || target === worker || !target.isConnected()) return answer(worker, m.id, 'unknown_session');
      const id = nextId++;
      // A worker that dies with the request leaves it here until the asker's own timeout.
      const timer = setTimeout(() => pending.delete(id), EMULATION_GROUP_TIMEOUT_MS);
      timer.unref();
      pending.set(id, { from: worker, id: m.id, timer });
      target.send({ type: DELIVER, id, session: m.session, node: m.node, data: m.data, protobuf: m.protobuf } satisfies EmuMessage);
    } else if (m.type === DONE) {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      clearTimeout(p.timer);
      answer(p.from, p.id, m.result);
    }
  });
}
