import type { NamespaceOptions } from './options.js';
import { topLevelString } from '../protocol/json-text.js';

/** Longest channel name accepted, bytes. */
export const MAX_CHANNEL_LENGTH = 255;
const CHANNEL_CHARS = /^[A-Za-z0-9_.:@-]+$/;

export interface ResolvedNamespace extends NamespaceOptions {
  readonly regex: RegExp;
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
