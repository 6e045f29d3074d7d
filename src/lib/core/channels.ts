import type { NamespaceOptions } from './options.js';
import { parseCadenceSuffix } from './cadence.js';
import { topLevelString } from '../protocol/json-text.js';

/** Longest channel name accepted, bytes. */
export const MAX_CHANNEL_LENGTH = 255;
const CHANNEL_CHARS = /^[A-Za-z0-9_.:@-]+$/;

export interface ResolvedNamespace extends NamespaceOptions {
  readonly regex: RegExp;
}

/** What a subscription name resolves to. */
export interface ResolvedSubscription {
  readonly ns: ResolvedNamespace;
  /** The channel publications come from: the name itself, or the name without its cadence suffix. */
  readonly source: string;
  /** At most one publication per this many ms to the subscriber; 0: every publication. */
  readonly intervalMs: number;
}

/** Maps a channel to its namespace rules: the first namespace whose pattern matches in full. */
export class ChannelRules {
  private readonly namespaces: readonly ResolvedNamespace[];
  private readonly cache = new Map<string, ResolvedNamespace | null>();

  constructor(namespaces: readonly NamespaceOptions[]) {
    this.namespaces = namespaces.map((ns) => ({ ...ns, regex: new RegExp('^(?:' + ns.pattern + ')$') }));
  }

  /** The channel's namespace, or null for an invalid or unknown channel. */
  resolve(channel: string): ResolvedNamespace | null {
    const hit = this.cache.get(channel);
    if (hit !== undefined) return hit;
    let ns: ResolvedNamespace | null = null;
    if (channel.length <= MAX_CHANNEL_LENGTH && CHANNEL_CHARS.test(channel)) {
      ns = this.namespaces.find((n) => n.regex.test(channel)) ?? null;
    }
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(channel, ns);
    return ns;
  }
}

/**
 * Resolves a subscription name: a channel of a namespace (its `conflationIntervalMs` applies),
 * else a channel with a cadence suffix its namespace lists in `cadences` (`BTC.price@1s`: the
 * same publications, at most one a second). A name that is a channel as it stands is never split
 * (a user id may contain `@`). Null: unknown.
 */
export function resolveSubscription(rules: ChannelRules, name: string): ResolvedSubscription | null {
  const ns = rules.resolve(name);
  if (ns) return { ns, source: name, intervalMs: ns.conflationIntervalMs };
  const c = parseCadenceSuffix(name);
  if (c === null) return null;
  const base = rules.resolve(c.source);
  if (base === null || !base.cadences.includes(c.suffix)) return null;
  return { ns: base, source: c.source, intervalMs: c.intervalMs };
}

/** The user a personal channel belongs to: its last dot-separated token. */
export function channelUser(channel: string): string {
  return channel.slice(channel.lastIndexOf('.') + 1);
}

/**
 * The tags a publication is stored with: those published, plus a `type` tag taken from the
 * data's top-level `type` string when the namespace asks for it (`typeTag`) and none was given.
 */
export function publicationTags(
  ns: NamespaceOptions,
  data: string,
  tags: Readonly<Record<string, string>> | undefined,
): Readonly<Record<string, string>> | undefined {
  if (!ns.typeTag || tags?.type !== undefined) return tags;
  const type = topLevelString(data, 'type');
  return type === undefined ? tags : { ...tags, type };
}
