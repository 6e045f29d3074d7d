/**
 * The one stream position parser. A position `{offset, epoch}` names the last publication a
 * client saw in a channel; every wire that carries one (Odin subscribe `positions`, Centrifugo
 * subscribe `offset`/`epoch` and history `since`, the server API's history `since`) parses it
 * here, and a bad one is always refused with error 107 (bad request) and the field's name.
 */
import { ErrorCode, protocolError, type ProtocolError } from './codes.js';

/** A point in a channel's stream: the last offset seen, within an epoch. */
export interface StreamPosition {
  readonly offset: number;
  readonly epoch: string;
}

/** Longest epoch accepted, characters (brokers' epochs are short ids). */
export const MAX_EPOCH_LENGTH = 256;

export interface PositionParseOptions {
  /**
   * Missing `offset`/`epoch` mean 0/"" (protobuf-generated JSON, as Centrifugo's wire, omits
   * zero values). Without it both fields are required.
   */
  readonly zeroDefaults?: boolean;
}

/**
 * Parses `{offset, epoch}` from `value`: offset a non-negative safe integer, epoch a string of
 * at most MAX_EPOCH_LENGTH. `field` names the value in the error message.
 */
export function parseStreamPosition(value: unknown, field: string, opts: PositionParseOptions = {}): StreamPosition | ProtocolError {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad(field);
  const v = value as { offset?: unknown; epoch?: unknown };
  const offset = v.offset === undefined && opts.zeroDefaults ? 0 : v.offset;
  const epoch = v.epoch === undefined && opts.zeroDefaults ? '' : v.epoch;
  if (!Number.isSafeInteger(offset) || (offset as number) < 0) return bad(field);
  if (typeof epoch !== 'string' || epoch.length > MAX_EPOCH_LENGTH) return bad(field);
  return { offset: offset as number, epoch };
}

function bad(field: string): ProtocolError {
  return protocolError(
    ErrorCode.BadRequest,
    `"${field.slice(0, 80)}" must be {offset, epoch}: offset a non-negative integer, epoch a string of at most ${MAX_EPOCH_LENGTH} characters`,
  );
}
