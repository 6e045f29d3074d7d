/** Errors of the publisher, with a stable `code`. */
export type PublisherErrorCode = 'invalid_options' | 'sink_unavailable' | 'listen_failed';

export class PublisherError extends Error {
  override readonly name = 'PublisherError';
  constructor(
    readonly code: PublisherErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
