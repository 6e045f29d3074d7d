/**
 * Recovered publications encoded once per protocol, as live fan-out encodes each publication
 * once for every member: a bounded cache (oldest entries dropped first) of each publication's encoding
 * for recovery (the Odin push frame, the Centrifugo JSON publication object), keyed by the
 * publication object itself — the memory broker's history hands out the same objects to every
 * reader, so a loop of the same recovery (or many clients recovering the same history) reuses
 * the encodings instead of encoding them again (docs/performance.md, "Recovery encoding"). A
 * broker that builds new objects per read (JetStream) simply misses. Publications outside the
 * stream (offset 0) are never cached.
 */

/** Cache kinds beside the protocol ids (push.ts: 0 Odin, 1 Centrifugo JSON, 2 protobuf push frames). */
export const KIND_CENTRIFUGE_JSON_OBJECT = 3;

/** Bytes of encodings kept, over every protocol. */
export const DEFAULT_RECOVERY_FRAMES_BYTES = 32 * 1024 * 1024;

/** What a cached encoding may be: a prepared frame or bytes, or a JSON text. */
type Encoded = Uint8Array | string;

const sizeOf = (e: Encoded): number => (typeof e === 'string' ? e.length : e.byteLength);
/** What an entry costs beside its bytes (map slot, object headers), bytes. */
const ENTRY_OVERHEAD = 64;

export class RecoveryFrames {
  /** Per kind, in insertion order: eviction drops the oldest first (a hit is one lookup, nothing moves). */
  private readonly kinds: Map<object, Encoded>[] = [];
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number = DEFAULT_RECOVERY_FRAMES_BYTES) {}

  /** Bytes held now. */
  get size(): number {
    return this.bytes;
  }

  /**
   * The encoding of `pub` for `kind` (a protocol's id and form), from the cache or from
   * `encode` (then kept). An encoding larger than a quarter of the cache is not kept.
   */
  get<P extends { readonly offset: number }, E extends Encoded>(kind: number, pub: P, encode: (pub: P) => E): E {
    if (pub.offset <= 0) return encode(pub);
    const entries = (this.kinds[kind] ??= new Map());
    const have = entries.get(pub);
    if (have !== undefined) {
      this.hits++;
      return have as E;
    }
    this.misses++;
    const e = encode(pub);
    const n = sizeOf(e) + ENTRY_OVERHEAD;
    if (n > this.maxBytes / 4) return e;
    entries.set(pub, e);
    this.bytes += n;
    if (this.bytes > this.maxBytes) this.evict();
    return e;
  }

  /** Drops the oldest entries of every kind until a tenth of the bound is free. */
  private evict(): void {
    const target = this.maxBytes * 0.9;
    for (const entries of this.kinds) {
      if (entries === undefined) continue;
      for (const [k, v] of entries) {
        if (this.bytes <= target) return;
        entries.delete(k);
        this.bytes -= sizeOf(v) + ENTRY_OVERHEAD;
      }
    }
  }
}
