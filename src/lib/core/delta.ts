/**
 * Fossil delta compression (Centrifugo's `delta: "fossil"`): a subscription that negotiated it
 * gets a publication as a patch against the last payload this connection received in the
 * channel, when the patch is smaller. The patch is made with `fossil-delta` (the Fossil SCM
 * algorithm, the one the SDKs apply) once per publication and base, whatever the number of
 * subscribers sharing that base (DeltaPatches), and encoded once per protocol.
 */
import { isUtf8 } from 'node:buffer';
import { createDelta } from 'fossil-delta';
import type { Publication } from './broker.js';

/** A patch turning one payload into the next, or null when it would not be smaller than the payload. */
export interface Patch {
  readonly bytes: Uint8Array;
  /** The patch is UTF-8 text, so the JSON protocol can carry it as a string. */
  readonly text: boolean;
}

/** The patches of one publication, by base: made on first use, shared by every subscriber with that base. */
export class DeltaPatches {
  private readonly byBase = new Map<unknown, Patch | null>();
  private target: Buffer | null = null;

  constructor(readonly pub: Publication) {}

  /** The patch from `base` (the last payload a subscriber received) to this publication. */
  from(base: Publication): Patch | null {
    // One publication, one key: its copies (history reads, cadence names) share it.
    const key = base.offset > 0 ? base.epoch + '\u0000' + base.offset : base;
    let p = this.byBase.get(key);
    if (p === undefined) {
      this.target ??= Buffer.from(this.pub.data);
      p = makePatch(Buffer.from(base.data), this.target);
      this.byBase.set(key, p);
    }
    return p;
  }
}

function makePatch(base: Uint8Array, target: Uint8Array): Patch | null {
  const bytes = createDelta(base, target);
  if (bytes.length >= target.length) return null;
  return { bytes, text: isUtf8(bytes) };
}
